"""Suite-wide wiring for parallel runs (``pytest -n 2 --dist loadgroup``, as ``tools/test`` runs).

Every test that uses the shared local control plane (``tptctl up``, a session fixture) goes to
one xdist group, so one worker starts that control plane once and runs those tests in order,
while the other worker runs the self-contained tests (each with its own database, stream prefix
and servers). Without the group each worker would start a control plane of its own. Every other
test is grouped by its file, as ``--dist loadfile`` would, so that a module's costly fixtures
(a started service, several replicas) are set up on one worker only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.e2e.conftest import ControlPlane, start_control_plane

# No timed assertions (DESIGN §11): hypothesis's default 200 ms deadline per example and its
# "too slow" check fail property tests at random on a loaded two-core machine, as does the
# share of generated inputs a test's assume() may discard; the suite has none of them.
settings.register_profile("suite", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.load_profile("suite")

CONTROL_PLANE_GROUP = "control-plane"


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One ``tptctl up`` shared by the e2e and security suites (each works in its own projects);
    the reliability suite overrides this with a control plane of its own."""
    yield from start_control_plane(tmp_path_factory)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses_control_plane = "control_plane" in getattr(item, "fixturenames", ())
        top = item.nodeid.split("/")[1] if item.nodeid.startswith("tests/") else ""
        if uses_control_plane:
            # The reliability suite breaks a control plane of its own: it may run beside the others.
            group = f"{CONTROL_PLANE_GROUP}-{top}" if top == "reliability" else CONTROL_PLANE_GROUP
        else:
            group = item.nodeid.partition("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
