"""threeport_model.references: ``${dependencies.NAME.OUTPUT}`` references."""

from __future__ import annotations

from threeport_model import references


def test_scan_finds_references_escapes_and_malformed_ones() -> None:
    result = references.scan(
        "a ${dependencies.db.url} $${x} $HOME ${dependencies.x} ${foo.bar.baz} ${dependencies.a.b"
    )

    assert [(r.dependency, r.output) for r in result.references] == [("db", "url")]
    assert [m.text for m in result.malformed] == ["${dependencies.x}", "${foo.bar.baz}", "${dependencies.a.b"]


def test_substitute_replaces_references_and_unescapes() -> None:
    text = "u=${dependencies.db.url} lit=$${HOME} $$ $x"

    assert (
        references.substitute(text, lambda r: f"<{r.dependency}:{r.output}>")
        == "u=<db:url> lit=${HOME} $$ $x"
    )


def test_escape_round_trips_through_substitute() -> None:
    original = "echo ${HOME} $${already}"

    escaped = references.escape(original)

    assert not references.contains_reference_syntax(escaped)
    assert references.substitute(escaped, lambda r: "never") == original


def test_a_reference_prints_as_it_is_written() -> None:
    (found,) = references.scan("x=${dependencies.db.url}").references

    assert str(found) == references.reference_text("db", "url") == "${dependencies.db.url}"
