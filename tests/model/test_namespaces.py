"""threeport_model.namespaces: templates checked by the registry, rendered by workload-delivery."""

from __future__ import annotations

import pytest

from threeport_model.namespaces import NamespaceError, check_template, namespace_for, render_namespace


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
