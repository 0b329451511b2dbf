"""Regenerates everything under ``gen/`` from ``protos/``: messages, gRPC stubs, typed stubs and
the SDK facade. Deterministic: the same protos give byte-identical output.

    python tools/codegen/generate.py            # rewrite gen/threeport
    python tools/codegen/generate.py --out DIR  # write into DIR instead (used by the staleness test)
    python tools/codegen/generate.py --check    # exit 1 and list differences if gen/ is stale
    python tools/codegen/generate.py --protos DIR --out DIR2   # generate from other protos
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"
GEN = ROOT / "gen"
PACKAGE = "threeport"

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sdkgen  # noqa: E402  (sibling module; this file runs as a script)

PACKAGE_DOC = '"""Generated from protos/{path}; do not edit (tools/codegen/generate.py)."""\n'


# Vendored imports (google/api: the HTTP mapping annotations). Their Python modules come from
# googleapis-common-protos, so only ours are generated.
VENDORED = ("google/",)


def proto_files(protos: Path) -> list[str]:
    found = (p.relative_to(protos).as_posix() for p in protos.rglob("*.proto"))
    return sorted(name for name in found if not name.startswith(VENDORED))


def plugin(name: str) -> str:
    """Finds a protoc plugin installed next to this interpreter (mypy-protobuf ships them)."""
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = folder / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"codegen: protoc plugin {name!r} not found; run tools/setup-dev")
    return found


def run_protoc(protos: Path, out: Path, descriptor_set: Path) -> None:
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{protos}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out=quiet:{out}",
        f"--mypy_grpc_out=quiet:{out}",
        "--include_source_info",
        "--include_imports",
        f"--descriptor_set_out={descriptor_set}",
        *proto_files(protos),
    ]
    from grpc_tools import protoc

    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"codegen: protoc failed with exit code {code}")


def add_package_markers(out: Path) -> None:
    """Every generated folder becomes a regular package, with a docstring and py.typed."""
    package_root = out / PACKAGE
    for folder in sorted(p for p in package_root.rglob("*") if p.is_dir()):
        init = folder / "__init__.py"
        if not init.exists():
            init.write_text(PACKAGE_DOC.format(path=folder.relative_to(out).as_posix()))
    (package_root / "__init__.py").write_text(
        '"""Threeport\'s generated API package: protobuf messages, gRPC stubs and the SDK facade.\n\n'
        "Everything under this package is produced by ``tools/codegen`` from ``protos/``; do not edit it.\n"
        '"""\n'
    )
    (package_root / "py.typed").write_text("")


def generate(out: Path, protos: Path = PROTOS) -> None:
    """Writes the complete generated tree for ``threeport`` into ``out``, from ``protos``."""
    target = out / PACKAGE
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        descriptor_set = Path(tmp) / "descriptors.binpb"
        run_protoc(protos, out, descriptor_set)
        sdkgen.write_sdk(descriptor_set.read_bytes(), target / "sdk")
        # The descriptor set ships too: the gateway and the CLI read method policies from it.
        (target / "descriptors.binpb").write_bytes(descriptor_set.read_bytes())
    add_package_markers(out)


def differences(a: Path, b: Path) -> list[str]:
    """Lists files that differ between two trees, relative to them."""
    found: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str) -> None:
        found.extend(f"only in {a.name}: {prefix}{n}" for n in cmp.left_only if n != "__pycache__")
        found.extend(f"only in {b.name}: {prefix}{n}" for n in cmp.right_only if n != "__pycache__")
        found.extend(f"differs: {prefix}{n}" for n in cmp.diff_files)
        for name, sub in cmp.subdirs.items():
            if name != "__pycache__":
                walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(a, b, ignore=["__pycache__"]), "")
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=GEN, help="folder to write the threeport package into"
    )
    parser.add_argument(
        "--protos", type=Path, default=PROTOS, help="folder of .proto files (default protos/)"
    )
    parser.add_argument("--check", action="store_true", help="compare gen/ with a fresh generation")
    options = parser.parse_args()
    if options.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp), options.protos)
            stale = differences(GEN / PACKAGE, Path(tmp) / PACKAGE)
        for line in stale:
            print(line)
        if stale:
            print("gen/ is stale: run python tools/codegen/generate.py", file=sys.stderr)
            return 1
        return 0
    generate(options.out, options.protos)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
