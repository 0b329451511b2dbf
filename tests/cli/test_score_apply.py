"""What tptctl does to Score files before sending them: reads `files[].source` relative to the
Score file, and orders a folder's applications so that those others depend on come first."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2
from threeport_cli import manifests, ordering
from threeport_cli.commands.resources import dependencies_first
from threeport_cli.errors import CommandError
from threeport_cli.manifests import Manifest

# Modelled on score-spec/score-compose examples/03-files/score.yaml: a text file, a binary file
# and a file whose placeholders must not be expanded, all read from beside the Score file.
FILES = """\
apiVersion: score.dev/v1b1
metadata: {name: hello}
containers:
  hello:
    image: busybox
    files:
      - {target: /fileA.txt, source: conf/fileA.txt}
      - {target: /fileC.bin, source: conf/fileC.bin}
    volumes: []
  sidecar:
    image: busybox
    files:
      /raw.sh: {source: conf/raw.sh, noExpand: true}
"""


def test_file_sources_are_read_relative_to_the_score_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "app"
    (folder / "conf").mkdir(parents=True)
    (folder / "conf" / "fileA.txt").write_text("name=${metadata.name}\n")
    (folder / "conf" / "fileC.bin").write_bytes(b"\x00\xff\x10")
    (folder / "conf" / "raw.sh").write_text("echo ${HOME}\n")
    (folder / "score.yaml").write_text(FILES)
    monkeypatch.chdir(tmp_path)  # elsewhere: the paths are the Score file's, not the shell's

    (manifest,) = manifests.load([str(folder / "score.yaml")], io.StringIO(), "acme")

    sent = yaml.safe_load(manifest.score_yaml)
    assert sent["containers"]["hello"]["files"] == [
        {"target": "/fileA.txt", "content": "name=${metadata.name}\n"},
        {"target": "/fileC.bin", "binaryContent": base64.b64encode(b"\x00\xff\x10").decode()},
    ]
    assert sent["containers"]["sidecar"]["files"] == {"/raw.sh": {"noExpand": True, "content": "echo ${HOME}\n"}}


def test_a_missing_source_names_the_file_entry(tmp_path: Path) -> None:
    (tmp_path / "score.yaml").write_text(FILES)

    with pytest.raises(manifests.ManifestError) as raised:
        manifests.load([str(tmp_path / "score.yaml")], io.StringIO(), "acme")

    assert raised.value.field_path == "containers.hello.files[0].source"
    assert "cannot read" in raised.value.detail and "fileA.txt" in raised.value.detail


def app(name: str, *needs: str, kind: str = "Application") -> Manifest:
    spec = {"components": {"main": {"image": "busybox"}},
            "dependencies": {n: {"type": "application", "params": {"application": n}} for n in needs}}
    message = json_format.ParseDict({"name": f"projects/acme/applications/{name}", "spec": spec},
                                    application_pb2.Application())
    return Manifest(f"{name}.yaml", kind, None, f"projects/acme/applications/{name}", "projects/acme", name,
                    message)


def test_applications_others_depend_on_are_applied_first_and_other_kinds_keep_their_place() -> None:
    # The online boutique's shape: frontend -> checkout -> cart; an environment between them.
    loaded = [app("frontend", "checkout", "cart"), app("dev", kind="Environment"), app("checkout", "cart"),
              app("cart"), app("unrelated", "not-in-this-apply")]

    ordered = dependencies_first(loaded)

    assert [m.resource_id for m in ordered] == ["cart", "dev", "checkout", "frontend", "unrelated"]


def test_a_cycle_is_refused_and_spelled_out() -> None:
    with pytest.raises(CommandError) as raised:
        dependencies_first([app("a", "b"), app("b", "c"), app("c", "a")])

    assert "a -> b -> c -> a" in str(raised.value)


def test_ordering_keeps_the_given_order_when_nothing_depends_on_anything() -> None:
    items = ["x", "y", "z"]
    assert ordering.dependencies_first(items, lambda item: item, lambda item: set()) == items
