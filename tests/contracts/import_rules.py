"""An import-linter contract type that lists what a package MAY import (``.importlinter`` uses it).

import-linter's own contracts say what must not be imported; the rules "the model imports only
the standard library and gen/", "``domain/`` does no I/O" and "the CLI uses only the SDK" are
allow-lists, so a new dependency is refused until someone decides it belongs. Options:

- ``source_modules``: the packages the rule is about (wildcards allowed: ``threeport_*.domain``).
  A source may always import its own submodules.
- ``allowed_modules``: modules (and their submodules) the sources may import.
- ``allow_stdlib``: whether the standard library is allowed (default false).
- ``allow_third_party``: whether any third-party package is allowed (default false).
- ``forbidden_modules``: modules refused even where the options above would allow them
  (``threeport.sdk``, ...).
- ``no_io``: also refuse the standard library's I/O modules (``IO_MODULES``: sockets, processes,
  files, HTTP, asyncio); third-party I/O clients are refused by not being allowed.

Third-party and standard-library imports are judged by the dotted name written in the import
statement (``urllib.parse`` is not ``urllib.request``), which grimp does not keep for them.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck
from importlinter.domain.helpers import module_expressions_to_modules

IO_MODULES = frozenset(
    {
        "asyncio",
        "ftplib",
        "http",
        "multiprocessing",
        "os",
        "pathlib",
        "selectors",
        "shutil",
        "smtplib",
        "socket",
        "socketserver",
        "sqlite3",
        "ssl",
        "subprocess",
        "tempfile",
        "urllib.request",
        "webbrowser",
    }
)
_FROM = re.compile(r"^\s*from\s+([\w.]+)\s+import\b")
_IMPORT = re.compile(r"^\s*import\s+(.+)$")


@dataclass(frozen=True)
class Violation:
    importer: str
    line_number: int
    imported: str
    why: str


def _within(name: str, modules: set[str]) -> bool:
    return any(name == module or name.startswith(module + ".") for module in modules)


def _written_names(line: str, squashed: str) -> list[str]:
    """The module names an import line names that belong to ``squashed`` (an external root);
    just ``squashed`` when the line cannot be read, so nothing goes unchecked."""
    code = line.split("#", 1)[0]
    written: list[str] = []
    if match := _FROM.match(code):
        written = [match[1]]
    elif match := _IMPORT.match(code):
        written = [part.split(" as ")[0].strip() for part in match[1].split(",")]
    found = [name for name in written if _within(name, {squashed})]
    return found or [squashed]


class AllowedImportsContract(Contract):
    """The source packages import nothing but themselves and what the contract allows."""

    type_name = "allowed_imports"

    source_modules = fields.SetField(subfield=fields.ModuleExpressionField())
    allowed_modules = fields.SetField(subfield=fields.StringField(), required=False, default=set())
    forbidden_modules = fields.SetField(subfield=fields.StringField(), required=False, default=set())
    allow_stdlib = fields.BooleanField(required=False, default=False)
    allow_third_party = fields.BooleanField(required=False, default=False)
    no_io = fields.BooleanField(required=False, default=False)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        sources = sorted(m.name for m in module_expressions_to_modules(graph, self.source_modules))  # type: ignore[arg-type]
        if not sources:
            raise ValueError(f"{self.name}: source_modules match no module")
        violations: list[Violation] = []
        for source in sources:
            for importer in sorted({source} | graph.find_descendants(source)):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    if _within(imported, {source}):
                        continue
                    for detail in graph.get_import_details(importer=importer, imported=imported):
                        names = (
                            _written_names(detail["line_contents"], imported)
                            if graph.is_module_squashed(imported)
                            else [imported]
                        )
                        for name in names:
                            why = self._refusal(name, external=graph.is_module_squashed(imported))
                            if why:
                                violations.append(Violation(importer, detail["line_number"], name, why))
        output.verbose_print(verbose, f"{self.name}: {len(violations)} refused imports")
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def _refusal(self, name: str, *, external: bool) -> str | None:
        """Why importing ``name`` is refused, or None when it is allowed."""
        if _within(name, self.forbidden_modules):  # type: ignore[arg-type]
            return "forbidden"
        if self.no_io and _within(name, IO_MODULES):
            return "does I/O"
        if _within(name, self.allowed_modules):  # type: ignore[arg-type]
            return None
        if not external:
            return "not an allowed package of ours"
        if name.split(".")[0] in sys.stdlib_module_names:
            return None if self.allow_stdlib else "the standard library is not allowed"
        return None if self.allow_third_party else "not an allowed third-party package"

    def render_broken_contract(self, check: ContractCheck) -> None:
        violations: list[Violation] = check.metadata["violations"]
        for violation in violations:
            output.print_error(
                f"{violation.importer} (line {violation.line_number}) imports {violation.imported}: {violation.why}",
                bold=False,
            )
            output.new_line()
