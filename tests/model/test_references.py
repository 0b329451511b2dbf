"""threeport_model.references: ``${dependencies.NAME.OUTPUT}`` references."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# Names a reference may use: anything without the characters that end or split one.
NAME = st.text(st.characters(blacklist_characters=".}$", blacklist_categories=("Cs",)), min_size=1, max_size=8)
LITERAL = st.text(st.characters(blacklist_characters="$", blacklist_categories=("Cs",)), max_size=8)


@given(pieces=st.lists(st.tuples(LITERAL, NAME, NAME), max_size=5), tail=LITERAL)
def test_substitute_replaces_exactly_the_references_written(pieces: list[tuple[str, str, str]], tail: str) -> None:
    text = "".join(literal + references.reference_text(dep, out) for literal, dep, out in pieces) + tail

    result = references.scan(text)
    substituted = references.substitute(text, lambda ref: f"<{ref.dependency}|{ref.output}>")

    assert [(r.dependency, r.output) for r in result.references] == [(d, o) for _, d, o in pieces]
    assert result.malformed == []
    assert substituted == "".join(f"{literal}<{dep}|{out}>" for literal, dep, out in pieces) + tail
    assert all(text[r.start : r.end] == str(r) for r in result.references)


@given(text=st.text(max_size=40))
def test_escaped_text_is_literal(text: str) -> None:
    escaped = references.escape(text)

    assert not references.contains_reference_syntax(escaped)
    assert references.substitute(escaped, lambda ref: pytest.fail(f"{ref} is not in the text")) == text


@given(text=st.text(st.sampled_from("${}.ab dependencies"), max_size=40))
def test_substitute_tolerates_whatever_scan_refuses(text: str) -> None:
    result = references.scan(text)

    substituted = references.substitute(text, lambda ref: "")

    # Everything scan refuses is left as written; only references are replaced.
    assert all(bad.text in substituted for bad in result.malformed)
    assert len(substituted) <= len(text)
