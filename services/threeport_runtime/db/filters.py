"""An AIP-160 subset for List and Watch filters, compiled to SQL.

Grammar: comparisons joined by ``AND``; a comparison is ``FIELD OP VALUE`` with OP one of
``=``, ``!=`` and ``:`` (has). Fields: ``name``, ``uid``, ``state``, ``labels.KEY`` (or
``labels:KEY`` for presence) and the spec/status fields a repository declares (e.g.
``spec.environment``). A string value ending in ``*`` matches by prefix; ``FIELD:*`` means the
field is present. Anything else is INVALID_ARGUMENT with reason INVALID_FILTER.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, literal, literal_column, not_, true
from sqlalchemy.orm import InstrumentedAttribute

from threeport_runtime.conditions import state_from_label, state_label
from threeport_runtime.db.schema import ResourceRow
from threeport_runtime.errors import FieldViolation, InvalidArgument

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op>!=|=|:)|(?P<word>[A-Za-z0-9_.*/\-]+))""")


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    value: str


def parse_filter(text: str) -> list[Comparison]:
    """Parses the filter text; an empty filter matches everything."""
    tokens = _tokenize(text)
    comparisons: list[Comparison] = []
    position = 0
    while position < len(tokens):
        if comparisons:
            if tokens[position] != ("word", "AND"):
                raise filter_error(f"expected AND after {_describe(comparisons[-1])}; only AND is supported")
            position += 1
        chunk = tokens[position : position + 3]
        if len(chunk) < 3 or chunk[0][0] != "word" or chunk[1][0] != "op" or chunk[2][0] == "op":
            raise filter_error('expected a comparison like labels.team = "payments"')
        comparisons.append(Comparison(chunk[0][1], chunk[1][1], chunk[2][1]))
        position += 3
    return comparisons


def compile_filter(
    text: str, row_type: type[ResourceRow], declared_fields: Mapping[str, str] = {}
) -> ColumnElement[bool]:
    """The SQL condition for ``text``; ``declared_fields`` maps filter names to JSON paths."""
    clauses = [_compile(c, row_type, declared_fields) for c in parse_filter(text)]
    return and_(true(), *clauses)


def filter_error(problem: str) -> InvalidArgument:
    return InvalidArgument(f"invalid filter: {problem}", [FieldViolation("filter", problem)], reason="INVALID_FILTER")


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise filter_error(f"unexpected character at position {position}: {text[position : position + 10]!r}")
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
            kind = "value"
        tokens.append((kind, value))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tokens


def _describe(comparison: Comparison) -> str:
    return f"{comparison.field} {comparison.op} {comparison.value!r}"


def _compile(
    comparison: Comparison, row_type: type[ResourceRow], declared_fields: Mapping[str, str]
) -> ColumnElement[bool]:
    field, op, value = comparison.field, comparison.op, comparison.value
    if field == "labels" and op == ":":
        has_label: ColumnElement[bool] = row_type.labels.has_key(value)
        return has_label
    if field.startswith("labels."):
        return _json_text(row_type.labels, field.removeprefix("labels.").split("."), op, value)
    if field in ("name", "uid"):
        column: Any = row_type.name if field == "name" else row_type.uid.cast(Text)
        return _text_compare(column, op, value)
    if field == "state":
        try:
            label = state_label(state_from_label(value))
        except ValueError:
            raise filter_error(
                f"unknown state {value!r}; use PENDING, RECONCILING, READY, FAILED or DELETING"
            ) from None
        return _text_compare(row_type.state, op, label)
    if field in declared_fields:
        path = declared_fields[field].split(".")
        root = row_type.spec if path[0] == "spec" else row_type.status
        return _json_text(root, path[1:], op, value)
    known = ", ".join(["name", "uid", "state", "labels.KEY", *sorted(declared_fields)])
    raise filter_error(f"unknown field {field!r}; filterable fields are {known}")


def declared_field_text(row_type: type[ResourceRow], declared_path: str) -> Any:
    """The text of a declared spec/status field (``status.cluster``) as a SQL expression."""
    root, *path = declared_path.split(".")
    node: Any = row_type.spec if root == "spec" else row_type.status
    for part in path:
        node = node[_key(part)]
    return node.astext


def _json_text(column: InstrumentedAttribute[Any], path: list[str], op: str, value: str) -> ColumnElement[bool]:
    node: Any = column
    for part in path[:-1]:
        node = node[_key(part)]
    if op == ":" and value == "*":
        return node.has_key(path[-1])  # type: ignore[no-any-return]
    return _text_compare(node[_key(path[-1])].astext, op, value)


def _key(part: str) -> Any:
    """A declared field's JSON key written into the statement, not sent as a parameter: an
    expression index such as ``(status ->> 'cluster')`` serves only statements naming the same
    key, and a prepared statement's generic plan cannot see into a parameter. Keys come from the
    service's declared fields, never from a request."""
    if not _KEY.fullmatch(part):
        raise ValueError(f"declared field key {part!r} is not an identifier")
    return literal_column(f"'{part}'")


def _text_compare(expression: Any, op: str, value: str) -> ColumnElement[bool]:
    if op == ":" and value == "*":
        return expression.is_not(None)  # type: ignore[no-any-return]
    if value.endswith("*"):
        prefix = value[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        match = expression.like(literal(prefix + "%"), escape="\\")
    else:
        match = expression == literal(value)
    if op == "!=":
        # A missing value is "not equal" too, as in AIP-160.
        return not_(match).self_group() | expression.is_(None)  # type: ignore[no-any-return]
    return match  # type: ignore[no-any-return]
