"""The reliability suite breaks a local control plane of its own (``tptctl up``, started as the e2e suite
starts its own) and checks that callers get clear answers meanwhile and that it recovers."""

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import ControlPlane, start_control_plane


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A control plane of this suite's own (it kills its services), not the shared one."""
    yield from start_control_plane(tmp_path_factory)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first test of this folder also starts the control plane (``tptctl up``, ~1 min alone,
    several on a busy machine): a longer limit than the suite's 120 s default."""
    for item in items:
        if "reliability" in item.path.parts:
            item.add_marker(pytest.mark.timeout(600))
