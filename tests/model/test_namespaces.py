"""threeport_model.namespaces: templates checked by the registry, rendered by workload-delivery."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from threeport_model.names import is_dns_label
from threeport_model.namespaces import (
    DEFAULT_TEMPLATE,
    NamespaceError,
    check_template,
    namespace_for,
    render_namespace,
)


def test_render_namespace() -> None:
    assert render_namespace("", project="acme", application="ledger", environment="prod") == "acme-ledger-prod"
    assert render_namespace("team-{application}", project="acme", application="ledger", environment="prod") == (
        "team-ledger"
    )
    with pytest.raises(NamespaceError, match="is not a DNS-1123 label"):
        render_namespace("{project}-{application}", project="a" * 40, application="b" * 30, environment="prod")


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{project}-{application}-{environment}", None),
        ("team-{application}", None),
        ("{team}-{application}", "unknown placeholder '{team}'"),
        ("{project}_{application}", "may contain only"),
        ("-{project}", "does not give a valid namespace"),
        ("{project}-", "does not give a valid namespace"),
    ],
)
def test_check_template(template: str, problem: str | None) -> None:
    found = check_template(template)
    assert found is None if problem is None else problem in (found or "")


def test_an_explicit_namespace_wins_and_must_be_a_label() -> None:
    names = {"project": "acme", "application": "ledger", "environment": "prod"}
    assert namespace_for("payments", "", **names) == "payments"
    assert namespace_for("", "{environment}-{application}", **names) == "prod-ledger"
    with pytest.raises(NamespaceError, match=r"spec\.namespace 'Payments'"):
        namespace_for("Payments", "", **names)


SHORT_LABEL = st.from_regex(r"[a-z]([-a-z0-9]{0,14}[a-z0-9])?", fullmatch=True)


@given(project=SHORT_LABEL, application=SHORT_LABEL, environment=SHORT_LABEL)
def test_the_default_template_joins_the_names(project: str, application: str, environment: str) -> None:
    rendered = render_namespace("", project=project, application=application, environment=environment)

    assert rendered == f"{project}-{application}-{environment}"
    assert check_template(DEFAULT_TEMPLATE) is None


@given(
    parts=st.lists(st.sampled_from(["{project}", "{application}", "{environment}", "-", "x", "7"]), max_size=6),
    project=SHORT_LABEL,
    application=SHORT_LABEL,
    environment=SHORT_LABEL,
)
def test_a_template_the_registry_accepts_fails_to_render_only_when_too_long(
    parts: list[str], project: str, application: str, environment: str
) -> None:
    template = "".join(parts)
    assume(template and check_template(template) is None)
    values = {"{project}": project, "{application}": application, "{environment}": environment}
    expected = "".join(values.get(part, part) for part in parts)

    try:
        rendered = render_namespace(template, project=project, application=application, environment=environment)
    except NamespaceError:
        assert len(expected) > 63
    else:
        assert rendered == expected and is_dns_label(rendered)
