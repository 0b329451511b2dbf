"""The local control plane's secrets are made once, even when the services of one ``up`` (which
start at once) ask for them at the same moment: every caller gets the one that was kept, whole,
and private to its owner."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from threeport_cli.local import secrets


def _ask(state: Path, start: threading.Barrier, got: list[str]) -> None:
    start.wait()  # every caller asks at the same moment
    got.append(secrets.service_credential(state))


def test_callers_racing_for_a_secret_all_get_the_one_kept(tmp_path: Path) -> None:
    for attempt in range(20):
        state = tmp_path / f"state-{attempt}"
        state.mkdir()
        start = threading.Barrier(8)
        got: list[str] = []
        callers = [threading.Thread(target=_ask, args=(state, start, got)) for _ in range(8)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
        kept = (state / "service-credential").read_text().strip()
        assert kept and got == [kept] * 8
        assert stat.S_IMODE((state / "service-credential").stat().st_mode) == 0o600
        assert sorted(p.name for p in state.iterdir()) == ["service-credential"], "nothing left aside"


def test_a_kept_secret_is_read_back_not_replaced(tmp_path: Path) -> None:
    first = secrets.encryption_keys_file(tmp_path).read_text()
    assert first.startswith("local-1:")
    assert secrets.encryption_keys_file(tmp_path).read_text() == first
    assert secrets.service_credential(tmp_path) == secrets.service_credential(tmp_path)
