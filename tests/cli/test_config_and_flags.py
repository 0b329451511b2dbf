"""Contexts persist privately, durations parse, and label selectors become filters."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

import pytest

from threeport_cli import config
from threeport_cli import main as entry
from threeport_cli.commands.resources import label_filter
from threeport_cli.config import ConfigError, Context
from threeport_cli.durations import parse_duration


def test_contexts_round_trip_with_private_permissions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sub" / "config.yaml"
    monkeypatch.setenv("THREEPORT_CONFIG", str(path))
    loaded = config.load()
    loaded.upsert(Context(name="local", server="127.0.0.1:8443", token="tp_x", project="acme"))
    loaded.current_context = "local"
    config.save(loaded)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = config.load()
    assert config.resolve(again, None) == Context("local", "127.0.0.1:8443", "tp_x", "acme")
    with pytest.raises(ConfigError, match="no context named 'other' \\(known: local\\)"):
        config.resolve(again, "other")


def test_no_context_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREEPORT_CONFIG", str(tmp_path / "none.yaml"))
    with pytest.raises(ConfigError, match="tptctl login"):
        config.resolve(config.load(), None)


def test_a_broken_config_file_is_reported_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("contexts: [{server: x}]\n")
    monkeypatch.setenv("THREEPORT_CONFIG", str(path))
    with pytest.raises(ConfigError, match=r"contexts\[0\] needs a name and a server"):
        config.load()
    assert path.read_text() == "contexts: [{server: x}]\n"


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("5m", 300), ("1h30m", 5400), ("30d", 2592000),
                                               ("250ms", 0.25), ("12", 12)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "1h 30m", "-5s"])
def test_bad_durations_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"use e\.g\. 90s, 5m"):
        parse_duration(text)


def test_label_selectors_become_filters() -> None:
    assert label_filter("team=payments,tier!=gold,canary") == (
        'labels.team = "payments" AND labels.tier != "gold" AND labels.canary:*'
    )


def test_the_lazy_command_table_names_every_registered_command() -> None:
    """main.COMMANDS decides which module to import for a command; it must match what the
    modules register, or a command would be unknown (or imported from the wrong module)."""
    for module in entry.command_modules():
        parser = argparse.ArgumentParser()
        registered = parser.add_subparsers()
        module.register(registered)
        short = module.__name__.rsplit(".", 1)[-1]
        assert {a.dest for a in registered._choices_actions} == {
            name for name, owner in entry.COMMANDS.items() if owner == short}
    assert set(entry.MODULE_ORDER) == set(entry.COMMANDS.values())
