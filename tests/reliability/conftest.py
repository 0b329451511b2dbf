"""The reliability suite breaks a local control plane of its own (``tptctl up``, the e2e suite's
fixture) and checks that callers get clear answers meanwhile and that it recovers."""

import pytest

from tests.e2e.conftest import control_plane  # noqa: F401 - the shared fixture


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first test of this folder also starts the control plane (``tptctl up``, ~1 min alone,
    several on a busy machine): a longer limit than the suite's 120 s default."""
    for item in items:
        if "reliability" in item.path.parts:
            item.add_marker(pytest.mark.timeout(600))
