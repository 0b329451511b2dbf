"""An application with a postgres dependency, deployed through tptctl and the gateway to a
development environment: `tptctl plan` shows what the infra-provider would make for it, the
infra-provider runs it in the cluster (`local`), the app's
``${dependencies.db.url}`` reaches it through a Kubernetes Secret, `tptctl get services` shows
it, and deleting the deployment deletes the development database."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.e2e.cluster_objects import list_objects
from tests.e2e.conftest import ControlPlane
from tests.e2e.test_delivery_cli import wait_for

MANIFESTS = """\
apiVersion: threeport.io/v1alpha1
kind: Environment
metadata: {name: sandbox, project: acme}
spec: {type: development}
---
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {name: stockroom, project: acme}
spec:
  components:
    api:
      image: registry.example.com/stockroom/api:1.0.0
      ports: [{name: http, port: 8080}]
      env: {DATABASE_URL: "${dependencies.db.url}", DATABASE_HOST: "${dependencies.db.host}"}
  dependencies:
    db: {type: postgres, class: small}
"""


# A whole control plane, a deployment waited for twice (up to 180 s each under load) and two plans.
@pytest.mark.timeout(400)
def test_postgres_dependency_in_development(control_plane: ControlPlane, tmp_path: Path) -> None:
    cp = control_plane
    manifest = tmp_path / "stockroom.yaml"
    manifest.write_text(MANIFESTS)
    applied = cp.tptctl("apply", "-f", str(manifest), "--wait", "--timeout", "60s")
    assert applied.code == 0, applied.err
    # Plan says which implementation the dependency resolved to and what the infra-provider would
    # make for it (a development environment: in the cluster, deleted with its last claim).
    planned = cp.tptctl("plan", "stockroom", "--env", "sandbox")
    assert planned.code == 0, planned.err
    (db,) = [line for line in planned.out.splitlines() if line.strip().startswith("service db: postgres")]
    assert "would claim postgres (small) via local (serviceClasses/postgres-default); " in db, db
    namespaced = "acme-stockroom-sandbox/tp-stockroom-sandbox-db-<id>"
    for made in (f"would create Secret {namespaced} (generated credentials)",
                 f"would create Service {namespaced} (port 5432)",
                 f"would create StatefulSet {namespaced} (1 replica of postgres:16 in the cluster the deployment is",
                 "would create PersistentVolumeClaim acme-stockroom-sandbox/data-tp-stockroom-sandbox-db-<id>-0 "
                 "(1Gi of data)", "; deleted once no claim uses it"):
        assert made in db, (made, db)
    deployed = cp.tptctl("deploy", "stockroom", "--env", "sandbox", "--wait", "--timeout", "180s")
    assert deployed.code == 0, deployed.err + cp.tptctl("describe", "deployment", "stockroom-sandbox").out
    again = cp.tptctl("plan", "stockroom", "--env", "sandbox")
    (db,) = [line for line in again.out.splitlines() if line.strip().startswith("service db: postgres")]
    assert db.endswith(": no change") and "managedServices/stockroom-sandbox-db-" in db, db

    services = cp.tptctl("get", "services")
    assert services.code == 0 and "stockroom-sandbox-db" in services.out, services.out + services.err
    with cp.client() as client:
        (service,) = [s for s in client.managed_service.list_managed_services()
                      if s.name.startswith("managedServices/stockroom-sandbox-db")]
        assert service.spec.implementation == "local" and service.spec.type == "postgres"
        host = service.status.outputs["host"]
        assert host.startswith("tp-stockroom-sandbox-db") and "password" not in service.status.outputs
    # The app's env: the URL (a secret output) only through a Kubernetes Secret.
    secrets = list_objects(cp, "/api/v1/secrets", "threeport.io/deployment=stockroom-sandbox")
    values = [base64.b64decode(v).decode() for s in secrets for v in (s.get("data") or {}).values()]
    assert any(v.startswith("postgresql://app:") and f"@{host}:5432/app" in v for v in values), values

    deleted = cp.tptctl("delete", "deployment", "stockroom-sandbox", "--wait", "--timeout", "180s")
    assert deleted.code == 0, deleted.err

    def gone() -> bool:
        return "stockroom-sandbox-db" not in cp.tptctl("get", "services").out

    wait_for(gone, "the development database to be deleted with its deployment", within=120)
