"""The sample applications the delivery tests deploy (the same shape as deploy/examples/)."""

from __future__ import annotations

from typing import Any

RATES: dict[str, Any] = {
    "components": {
        "svc": {
            "image": "registry.example.com/rates/svc:1.0.0",
            "ports": [{"name": "http", "port": 8080}],
            "probes": {"readiness": {"http": {"path": "/healthz", "port": "http"}}},
        }
    }
}

SHOP: dict[str, Any] = {
    "components": {
        "api": {
            "image": "registry.example.com/shop/api:1.0.0",
            "replicas": 2,
            "ports": [{"name": "http", "port": 8080}],
            "env": {"LOG_LEVEL": "info", "RATES_URL": "${dependencies.rates.url}"},
            "resources": {"cpu": "200m", "memory": "256Mi", "limits": {"memory": "512Mi"}},
            "probes": {
                "readiness": {"http": {"path": "/healthz", "port": "http"}},
                "liveness": {"tcp": {"port": "http"}, "periodSeconds": 20},
            },
        },
        "worker": {"image": "registry.example.com/shop/worker:1.0.0", "env": {"QUEUE": "orders"}},
    },
    "dependencies": {"rates": {"type": "application", "params": {"application": "rates", "component": "svc"}}},
}
