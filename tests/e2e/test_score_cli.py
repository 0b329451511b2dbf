"""A folder of Score files (deploy/examples/score, one per workload, naming each other with
`service` and `endpoint` resources) applied with `tptctl apply -f DIR --env ENV`: the
applications are created dependencies first, deployed to the emulated cluster and Ready, with
each workload's address reaching the others' pods, an `amqp` queue from the built-in
development addon, files from `source` and `binaryContent` mounted (a script executable), and
redis's `username` given. Deleting the folder removes dependents first."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cluster_objects import list_objects
from tests.e2e.conftest import ControlPlane
from tests.support import REPO_ROOT

EXAMPLE = REPO_ROOT / "deploy" / "examples" / "score"
ENVIRONMENT = """\
apiVersion: threeport.io/v1alpha1
kind: Environment
metadata: {name: score-dev, project: acme}
spec: {type: development}
"""
APPS = ("product-service", "order-service", "store-front")


def cluster_objects(cp: ControlPlane, path: str, deployment: str) -> list[dict[str, Any]]:
    return list_objects(cp, path, f"threeport.io/deployment={deployment}")


@pytest.mark.timeout(600)
def test_a_folder_of_score_files_deploys_as_one_system(control_plane: ControlPlane, tmp_path: Path) -> None:
    cp = control_plane
    environment = tmp_path / "environment.yaml"
    environment.write_text(ENVIRONMENT)
    assert cp.tptctl("apply", "-f", str(environment)).code == 0

    applied = cp.tptctl("apply", "-f", str(EXAMPLE), "--env", "score-dev", "--wait", "--timeout", "300s")

    assert applied.code == 0, applied.err + "".join(
        cp.tptctl("describe", "deployment", f"{app}-score-dev").out for app in APPS)
    lines = applied.out.splitlines()
    assert lines[:3] == [f"application/{app} created" for app in APPS]  # dependencies first
    assert lines[3:] == [f"deployment/{app}-score-dev deploying" for app in APPS]

    # store-front's `service` resources: the other workloads' in-cluster addresses, in its env.
    (front_env,) = [c for c in cluster_objects(cp, "/api/v1/configmaps", "store-front-score-dev")
                    if c["metadata"]["name"].endswith("-env")]
    order_url = front_env["data"]["VUE_APP_ORDER_SERVICE_URL"]
    assert re.fullmatch(r"http://order-service-order-service\.acme-order-service-score-dev(-[0-9a-f]{8})?"
                        r"\.svc\.cluster\.local:3000/", order_url), front_env
    assert front_env["data"]["VUE_APP_PRODUCT_SERVICE_URL"].startswith("http://product-service-product-service.")

    # order-service: the endpoint's URL in plain config; the redis URL (with Score's username)
    # only in a Secret.
    (order_env,) = [c for c in cluster_objects(cp, "/api/v1/configmaps", "order-service-score-dev")
                    if c["metadata"]["name"].endswith("-env")]
    assert order_env["data"]["PRODUCT_SERVICE_URL"].endswith(".svc.cluster.local:3002")
    # The amqp queue: a type only the addon catalog provides (the built-in rabbitmq in development).
    assert order_env["data"]["ORDER_QUEUE_HOSTNAME"] == "rabbitmq.dev-services.svc", order_env
    assert order_env["data"]["ORDER_QUEUE_USERNAME"] == "threeport"
    secrets = cluster_objects(cp, "/api/v1/secrets", "order-service-score-dev")
    cache_urls = [base64.b64decode(s["data"]["CACHE_URL"]).decode()
                  for s in secrets if "CACHE_URL" in s.get("data", {})]
    assert len(cache_urls) == 1 and cache_urls[0].startswith("redis://default:"), cache_urls

    # product-service: the file read from `source` and the one given as `binaryContent`.
    (files,) = [c for c in cluster_objects(cp, "/api/v1/configmaps", "product-service-score-dev")
                if c["metadata"]["name"].endswith("-files")]
    assert "# served by product-service" in files["data"]["file-0"]
    assert files["binaryData"]["file-1"] == "iVBORw0KGgo="
    (workload,) = cluster_objects(cp, "/apis/apps/v1/statefulsets", "product-service-score-dev")  # a volume
    (volume,) = [v for v in workload["spec"]["template"]["spec"]["volumes"] if v["name"] == "config-files"]
    assert {"key": "file-2", "path": "file-2", "mode": 0o755} in volume["configMap"]["items"]

    shown = cp.tptctl("get", "app", "store-front", "-o", "yaml").out
    assert "type: application" in shown and "application: order-service" in shown

    for app in reversed(APPS):
        deleted = cp.tptctl("delete", "deployment", f"{app}-score-dev", "--wait", "--timeout", "180s")
        assert deleted.code == 0, deleted.err
    removed = cp.tptctl("delete", "-f", str(EXAMPLE), "--wait", "--timeout", "60s")
    assert removed.code == 0, removed.err
    assert removed.out.splitlines() == [f"application/{app} deleted" for app in reversed(APPS)]
