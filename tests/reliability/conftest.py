"""The reliability suite breaks a local control plane of its own (``tptctl up``, the e2e suite's
fixture) and checks that callers get clear answers meanwhile and that it recovers."""

from tests.e2e.conftest import control_plane  # noqa: F401 - the shared fixture
