"""tptctl's contexts: which control plane to talk to, with which token, for which project.

Stored as YAML at ``~/.config/threeport/config.yaml`` (``$THREEPORT_CONFIG`` overrides), written
atomically with mode 0600 because it holds tokens. CI needs no file at all: ``$THREEPORT_SERVER``
with ``$THREEPORT_TOKEN`` (and ``$THREEPORT_CA_FILE``, ``$THREEPORT_TLS``, ``$THREEPORT_PROJECT``)
is a context of its own, used unless ``--context`` names another, so a token never has to be on
a command line.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """The config file or a context in it is missing or malformed; the message says what to do."""


@dataclass
class Context:
    """One control plane as seen by one principal."""

    name: str
    server: str
    token: str = ""
    project: str = ""
    tls: bool = False
    ca_file: str = ""


@dataclass
class Config:
    current_context: str = ""
    contexts: list[Context] = field(default_factory=list)

    def find(self, name: str) -> Context | None:
        return next((c for c in self.contexts if c.name == name), None)

    def upsert(self, context: Context) -> None:
        self.contexts = [c for c in self.contexts if c.name != context.name] + [context]

    def remove(self, name: str) -> bool:
        before = len(self.contexts)
        self.contexts = [c for c in self.contexts if c.name != name]
        if self.current_context == name:
            self.current_context = ""
        return len(self.contexts) != before


def config_path() -> Path:
    configured = os.environ.get("THREEPORT_CONFIG")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "threeport" / "config.yaml"


def load(path: Path | None = None) -> Config:
    path = path or config_path()
    if not path.exists():
        return Config()
    try:
        raw: Any = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML ({error}); fix or delete it") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping; fix or delete it")
    contexts = []
    for index, item in enumerate(raw.get("contexts") or []):
        if not isinstance(item, dict) or not item.get("name") or not item.get("server"):
            raise ConfigError(f"{path}: contexts[{index}] needs a name and a server")
        known = {k: v for k, v in item.items() if k in Context.__dataclass_fields__}
        contexts.append(Context(**known))
    return Config(current_context=str(raw.get("currentContext") or ""), contexts=contexts)


def save(config: Config, path: Path | None = None) -> Path:
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {"currentContext": config.current_context, "contexts": [asdict(c) for c in config.contexts]}
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".yaml")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            yaml.safe_dump(data, handle, sort_keys=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


ENVIRONMENT_CONTEXT = "environment"
TRUE_WORDS = ("1", "true", "yes", "on")


def from_environment() -> Context | None:
    """The context ``$THREEPORT_SERVER`` and friends describe, if the server is set.

    TLS is on with ``$THREEPORT_TLS`` (system roots), with ``$THREEPORT_CA_FILE``, or when the
    server's port is 443, where a plaintext gRPC server is never what is meant."""
    server = os.environ.get("THREEPORT_SERVER", "").strip()
    if not server:
        return None
    ca_file = os.environ.get("THREEPORT_CA_FILE", "").strip()
    tls_word = os.environ.get("THREEPORT_TLS", "").strip().lower()
    if tls_word and tls_word not in (*TRUE_WORDS, "0", "false", "no", "off"):
        raise ConfigError(f"THREEPORT_TLS={tls_word!r}: use true or false")
    tls = tls_word in TRUE_WORDS or (not tls_word and server.endswith(":443"))
    if ca_file and not Path(ca_file).expanduser().is_file():
        raise ConfigError(f"THREEPORT_CA_FILE={ca_file}: no such file")
    return Context(ENVIRONMENT_CONTEXT, server, token=os.environ.get("THREEPORT_TOKEN", "").strip(),
                   project=os.environ.get("THREEPORT_PROJECT", "").strip(), tls=tls,
                   ca_file=str(Path(ca_file).expanduser()) if ca_file else "")


def resolve(config: Config, name: str | None) -> Context:
    """The context named by ``--context``, else the one the environment describes, else the
    current one; raises ConfigError if none."""
    if not name:
        environment = from_environment()
        if environment is not None:
            return environment
    wanted = name or config.current_context
    if not wanted:
        raise ConfigError("no context is selected: run `tptctl login --server HOST:PORT --token TOKEN` "
                          "or `tptctl up`, or set THREEPORT_SERVER and THREEPORT_TOKEN")
    context = config.find(wanted)
    if context is None:
        known = ", ".join(c.name for c in config.contexts) or "none"
        raise ConfigError(f"no context named {wanted!r} (known: {known})")
    return context
