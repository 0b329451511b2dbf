"""The security suite runs against one local control plane started with ``tptctl up`` (the one
the e2e suite uses: ``control_plane`` in tests/conftest.py), and reaches it only as users do:
through ``tptctl``, the SDK and the gateway.

``tenants`` adds two projects, ``sec-a`` and ``sec-b``, each with a viewer, a deployer and an
admin token, so tests can act as any role of either project.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.conftest import ControlPlane
from threeport.sdk import Client
from threeport_cli import config

PROJECTS = ("sec-a", "sec-b")
ROLES = ("viewer", "deployer", "admin")


@dataclass
class Tenants:
    plane: ControlPlane
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    opened: list[Client] = field(default_factory=list)

    @property
    def server(self) -> str:
        return config.resolve(config.load(self.plane.config_file), "local").server

    def client(self, project: str, role: str) -> Client:
        return self.connect(self.tokens[(project, role)])

    def operator(self) -> Client:
        found = config.resolve(config.load(self.plane.config_file), "local")
        return self.connect(found.token)

    def connect(self, token: str) -> Client:
        opened = Client(self.server, token=token)
        self.opened.append(opened)
        return opened


def issue_token(plane: ControlPlane, account: str, project: str, role: str, *extra: str) -> str:
    created = plane.tptctl("token", "create", account, "-p", project, "--role", role, *extra)
    assert created.code == 0, created.err
    return created.out.strip().splitlines()[-1]


@pytest.fixture(scope="session", autouse=True)
def tenants(control_plane: ControlPlane) -> Iterator[Tenants]:
    found = Tenants(control_plane)
    for project in PROJECTS:
        assert control_plane.tptctl("project", "create", project).code == 0
        for role in ROLES:
            found.tokens[(project, role)] = issue_token(control_plane, f"{project}-{role}", project, role)
    try:
        yield found
    finally:
        for opened in found.opened:
            opened.close()


def write(tmp_path: Path, text: str, name: str = "manifest.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first test of this folder also starts the control plane (``tptctl up``, ~1 min alone,
    several on a busy machine): a longer limit than the suite's 120 s default."""
    for item in items:
        if "security" in item.path.parts:
            item.add_marker(pytest.mark.timeout(600))
