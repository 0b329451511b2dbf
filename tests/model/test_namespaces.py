"""threeport_model.namespaces: templates checked by the registry, rendered by workload-delivery."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from threeport_model.names import is_dns_label
from threeport_model.namespaces import (
    DEFAULT_TEMPLATE,
    HASH_LENGTH,
    NamespaceError,
    check_template,
    namespace_for,
    namespace_keeping_earlier,
    render_namespace,
    system_namespace,
)


def test_render_namespace() -> None:
    assert render_namespace("", project="acme", application="ledger", environment="prod") == "acme-ledger-prod"
    assert render_namespace("team-{project}-{application}", project="acme", application="ledger",
                            environment="prod") == "team-acme-ledger"
    with pytest.raises(NamespaceError, match="is not a DNS-1123 label"):
        render_namespace("{project}-{application}", project="a" * 40, application="b" * 30, environment="prod")


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{project}-{application}-{environment}", None),
        ("team-{project}-{application}", None),
        ("team-{application}", "must contain {project}"),
        ("{environment}", "must contain {project}"),
        ("kube-{project}", "system namespaces"),
        ("threeport-{project}", "system namespaces"),
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
    assert namespace_for("acme-payments", "", **names) == "acme-payments"
    assert namespace_for("", "{environment}-{project}-{application}", **names) == "prod-acme-ledger"
    with pytest.raises(NamespaceError, match=r"spec\.namespace 'Payments'"):
        namespace_for("Payments", "", **names)


@pytest.mark.parametrize(
    ("explicit", "problem"),
    [
        ("b-rates-dev", "must start with the project's name"),
        ("kube-system", "must start with the project's name"),
        ("default", "must start with the project's name"),
        ("acme", "must start with the project's name"),
    ],
)
def test_an_explicit_namespace_is_the_projects_own(explicit: str, problem: str) -> None:
    with pytest.raises(NamespaceError, match=problem):
        namespace_for(explicit, "", project="acme", application="ledger", environment="prod")


def test_a_system_namespace_is_refused_even_when_a_project_renders_it() -> None:
    with pytest.raises(NamespaceError, match="system namespace"):
        render_namespace("{project}", project="default", application="x", environment="dev")
    with pytest.raises(NamespaceError, match="system namespace"):
        render_namespace("{project}-{environment}", project="kube", application="x", environment="system")
    with pytest.raises(NamespaceError, match="system namespace"):
        namespace_for("kube-system", "", project="kube", application="x", environment="dev")


def test_a_template_stored_before_the_rules_is_refused_when_rendered() -> None:
    with pytest.raises(NamespaceError, match=r"must contain \{project\}"):
        namespace_for("", "team-{application}", project="acme", application="ledger", environment="prod")


def test_names_that_read_back_two_ways_get_a_stable_hash_and_never_meet() -> None:
    first = render_namespace("", project="a", application="x-y", environment="dev")
    second = render_namespace("", project="a-x", application="y", environment="dev")
    assert first != second
    assert first.startswith("a-x-y-dev-") and second.startswith("a-x-y-dev-")
    assert first == render_namespace("", project="a", application="x-y", environment="dev")
    # Unambiguous names keep their spelling (existing namespaces stay where they are).
    assert render_namespace("", project="acme", application="ledger", environment="dev") == "acme-ledger-dev"
    # A template without separators is ambiguous even without '-'.
    assert render_namespace("{project}{application}", project="ab", application="c", environment="d") != (
        render_namespace("{project}{application}", project="a", application="bc", environment="d"))


SHORT_LABEL = st.from_regex(r"[a-z]([-a-z0-9]{0,14}[a-z0-9])?", fullmatch=True)


@given(project=SHORT_LABEL, application=SHORT_LABEL, environment=SHORT_LABEL)
def test_the_default_template_joins_the_names(project: str, application: str, environment: str) -> None:
    rendered = render_namespace("", project=project, application=application, environment=environment)

    plain = f"{project}-{application}-{environment}"
    if "-" in project + application + environment:  # it may read back as other names
        assert rendered == plain or (rendered.startswith(plain + "-") and len(rendered) == len(plain) + 9)
    else:
        assert rendered == plain
    assert check_template(DEFAULT_TEMPLATE) is None


TRIPLES = st.tuples(SHORT_LABEL, SHORT_LABEL, SHORT_LABEL)


@given(template=st.sampled_from([DEFAULT_TEMPLATE, "{project}{application}{environment}", "{project}-{application}",
                                 "x-{environment}-{project}-{application}", "{project}-{environment}{application}"]),
       first=TRIPLES, second=TRIPLES)
def test_different_names_never_render_the_same_namespace(
    template: str, first: tuple[str, str, str], second: tuple[str, str, str]
) -> None:
    used = [i for i, p in enumerate(("{project}", "{application}", "{environment}")) if p in template]
    assume([first[i] for i in used] != [second[i] for i in used])
    try:
        one = render_namespace(template, project=first[0], application=first[1], environment=first[2])
        other = render_namespace(template, project=second[0], application=second[1], environment=second[2])
    except NamespaceError:
        return  # too long for a label
    assert one != other


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
    except NamespaceError as error:
        assert len(expected) + 1 + HASH_LENGTH > 63 or "system namespace" in str(error)
    else:
        assert rendered in (expected, f"{expected}-{rendered[-HASH_LENGTH:]}") and is_dns_label(rendered)


def test_a_deployment_running_in_the_earlier_spelling_keeps_it_until_its_record_says_otherwise() -> None:
    names = {"project": "sec-b", "application": "rates", "environment": "dev"}
    derived = render_namespace("", **names)
    assert derived.startswith("sec-b-rates-dev-")
    # Running there before the upgrade: keep it, with the derived name to fall back to.
    assert namespace_keeping_earlier("", "", "sec-b-rates-dev", **names) == ("sec-b-rates-dev", derived)
    # New, or running elsewhere: the derived name.
    assert namespace_keeping_earlier("", "", "", **names) == (derived, "")
    assert namespace_keeping_earlier("", "", "sec-b-other", **names) == (derived, "")
    # Unambiguous names never changed; an explicit namespace is used as asked.
    plain = {"project": "acme", "application": "rates", "environment": "dev"}
    assert namespace_keeping_earlier("", "", "acme-rates-dev", **plain) == ("acme-rates-dev", "")
    assert namespace_keeping_earlier("acme-mine", "", "acme-rates-dev", **plain) == ("acme-mine", "")


def test_the_platforms_own_namespaces_and_the_builtin_addons_are_system_namespaces() -> None:
    """The list in threeport_model must follow the addon catalog and the cluster onboarding."""
    from threeport_addon_manager.catalog.seeding import builtin_addons
    from threeport_cluster_manager.domain.onboarding import NAMESPACE

    for namespace in {addon.spec.namespace for addon in builtin_addons()} | {NAMESPACE}:
        assert system_namespace(namespace), namespace
