"""The chart cache's own directory: made on the first fetch, removed with the process (each
service start used to leave one behind in the temporary folder)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from threeport_runtime.helm import ChartCache

FETCH_AND_EXIT = """
import asyncio, sys
from threeport_runtime.helm import ChartCache

async def main() -> None:
    archive, _ = await ChartCache().fetch(sys.argv[1], "echo", "1.0.0")
    print(archive, flush=True)

asyncio.run(main())
"""


def test_a_cache_that_fetches_nothing_makes_no_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ChartCache()
    assert list(tmp_path.iterdir()) == []


def test_the_charts_a_process_fetched_go_when_it_exits(
    tmp_path: Path, chart_repository: tuple[str, dict[str, str]]
) -> None:
    url, _ = chart_repository
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", FETCH_AND_EXIT, url], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    archive = Path(done.stdout.strip())
    assert archive.name == "echo-1.0.0.tgz" and archive.is_relative_to(tmp_path)  # it was fetched there
    assert list(tmp_path.iterdir()) == []
