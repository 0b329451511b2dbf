"""The DESIGN §10.1 example manifests as protos, and helpers to build variants of them."""

from __future__ import annotations

import copy
from typing import Any

from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2, environment_pb2

LEDGER_SPEC: dict[str, Any] = {
    "components": {
        "api": {
            "image": "registry.example.com/ledger/api:1.0.0",
            "command": ["/app/api"],
            "args": ["--listen", ":8080"],
            "replicas": 2,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "env": {"LOG_LEVEL": "info", "DATABASE_URL": "${dependencies.db.url}"},
            "resources": {"cpu": "200m", "memory": "256Mi", "limits": {"cpu": "1", "memory": "512Mi"}},
            "probes": {
                "readiness": {"http": {"path": "/healthz", "port": "http"}},
                "liveness": {"http": {"path": "/livez", "port": "8080"}, "failureThreshold": 5},
            },
            "storage": [{"name": "data", "path": "/var/lib/x", "size": "1Gi"}],
        },
        "worker": {"image": "registry.example.com/ledger/worker:1.0.0"},
    },
    "dependencies": {
        "db": {"type": "postgres", "class": "small"},
        "rates": {
            "type": "application",
            "params": {"application": "rates", "component": "svc", "port": "grpc"},
        },
        "web": {
            "type": "ingress",
            "params": {"component": "api", "port": "http", "host": "ledger.example.com", "tls": True},
        },
    },
    "placement": {
        "location": "Europe:Frankfurt",
        "clusterProfile": "standard",
        "clusterLabels": {"tier": "gold"},
    },
}

PROD_SPEC: dict[str, Any] = {
    "type": "ENVIRONMENT_TYPE_PRODUCTION",
    "clusterProfile": "standard",
    "serviceClasses": {"postgres": "large"},
    "autoDeploy": [{"branch": "main"}, {"tag": "v*", "application": "ledger"}],
    "requireApproval": True,
    "onDemandClusters": True,
}


def application(spec: dict[str, Any] | None = None, **fields: Any) -> application_pb2.Application:
    """An Application from a manifest-style spec (camelCase or snake_case keys)."""
    message = application_pb2.Application(labels={"team": "payments"}, **fields)
    json_format.ParseDict(copy.deepcopy(LEDGER_SPEC if spec is None else spec), message.spec)
    return message


def ledger_with(path: str, value: Any) -> application_pb2.Application:
    """The ledger app with the value at a dotted path (``components.api.replicas``) replaced;
    a value of ``DELETE`` removes the key."""
    spec = copy.deepcopy(LEDGER_SPEC)
    _set(spec, path, value)
    return application(spec)


def environment(spec: dict[str, Any] | None = None) -> environment_pb2.Environment:
    message = environment_pb2.Environment(name="projects/acme/environments/prod")
    json_format.ParseDict(copy.deepcopy(PROD_SPEC if spec is None else spec), message.spec)
    return message


def prod_with(path: str, value: Any) -> environment_pb2.Environment:
    spec = copy.deepcopy(PROD_SPEC)
    _set(spec, path, value)
    return environment(spec)


class _Delete:
    """The marker type of ``DELETE``; its repr is stable so that test ids are the same on every
    xdist worker (an ``object()`` prints its address)."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()


def _set(tree: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        tree = tree[int(part)] if isinstance(tree, list) else tree.setdefault(part, {})
    if isinstance(tree, list):
        tree[int(last)] = value
    elif value is DELETE:
        del tree[last]
    else:
        tree[last] = value
