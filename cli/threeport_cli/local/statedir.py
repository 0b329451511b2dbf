"""Where the local control plane keeps its data, logs and the record of what it started."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

RECORD_FILE = "processes.json"


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/threeport``, else ``~/.local/state/threeport``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "threeport"


@dataclass
class ProcessRecord:
    """One process ``tptctl up`` started: enough to probe it and stop it later."""

    name: str
    pid: int
    command: list[str]
    log: str
    port: int = 0
    url: str = ""


@dataclass
class StateRecord:
    """Everything ``tptctl up`` started, in start order, and the ports it chose."""

    processes: list[ProcessRecord] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)

    def find(self, name: str) -> ProcessRecord | None:
        return next((p for p in self.processes if p.name == name), None)

    def replace(self, record: ProcessRecord) -> None:
        self.processes = [p for p in self.processes if p.name != record.name] + [record]


class StateDir:
    """A state directory: created private to its owner, and never touching anything outside it."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().resolve()

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.path / "logs").mkdir(exist_ok=True, mode=0o700)

    def sub(self, name: str) -> Path:
        return self.path / name

    def log(self, name: str) -> Path:
        return self.path / "logs" / f"{name}.log"

    def load(self) -> StateRecord:
        file = self.path / RECORD_FILE
        if not file.exists():
            return StateRecord()
        raw = json.loads(file.read_text())
        return StateRecord(
            processes=[ProcessRecord(**p) for p in raw.get("processes", [])],
            ports={k: int(v) for k, v in raw.get("ports", {}).items()},
        )

    def save(self, record: StateRecord) -> None:
        file = self.path / RECORD_FILE
        temporary = file.with_suffix(".tmp")
        # It holds the datastore URLs, passwords included: readable by the owner only.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(asdict(record), indent=2) + "\n")
        temporary.replace(file)
