"""threeport_model.auto_deploy: which builds an environment's rules select."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threeport.registry.v1alpha1 import environment_pb2
from threeport_model.auto_deploy import any_rule_matches, matches


def _rule(branch: str = "", tag: str = "", app: str = "") -> environment_pb2.AutoDeployRule:
    return environment_pb2.AutoDeployRule(branch=branch, tag=tag, application=app)


@pytest.mark.parametrize(
    ("rule", "app", "branch", "tag", "expected"),
    [
        (_rule(branch="main"), "ledger", "main", "", True),
        (_rule(branch="main"), "ledger", "main-2", "", False),
        (_rule(branch="Main"), "ledger", "main", "", False),
        (_rule(branch="release/*"), "ledger", "release/1.0", "", True),
        (_rule(branch="release/*"), "ledger", "release/1.0/hotfix", "", True),
        (_rule(branch="release/?.x"), "ledger", "release/1.x", "", True),
        (_rule(branch="release/[0-9]*"), "ledger", "release/next", "", False),
        (_rule(branch="*"), "ledger", "", "v1.0", False),
        (_rule(tag="v*"), "ledger", "main", "v1.2.3", True),
        (_rule(tag="v*"), "ledger", "main", "", False),
        (_rule(tag="v*", app="ledger"), "rates", "", "v1", False),
        (_rule(tag="v*", app="ledger"), "ledger", "", "v1", True),
        (_rule(branch="main", tag="v*"), "ledger", "main", "", False),
        (_rule(branch="main", tag="v*"), "ledger", "main", "v2", True),
        (_rule(app="ledger"), "ledger", "main", "v1", False),
        (_rule(), "ledger", "main", "v1", False),
    ],
)
def test_auto_deploy_rule_matching(
    rule: environment_pb2.AutoDeployRule, app: str, branch: str, tag: str, expected: bool
) -> None:
    assert matches(rule, app, branch, tag) is expected


def test_the_design_rules() -> None:
    # DESIGN §10.1: autoDeploy: [{branch: main}, {tag: "v*", application: ledger}]
    rules = [_rule(branch="main"), _rule(tag="v*", app="ledger")]

    assert any_rule_matches(rules, "rates", "main", "")
    assert any_rule_matches(rules, "ledger", "feature/x", "v1.0")
    assert not any_rule_matches(rules, "rates", "feature/x", "v1.0")


BRANCH = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9/._-]{0,20}", fullmatch=True)


@given(branch=BRANCH, other=BRANCH)
def test_a_rule_without_globs_matches_only_its_own_branch(branch: str, other: str) -> None:
    rule = _rule(branch=branch)

    assert matches(rule, "ledger", branch, "")
    assert matches(rule, "ledger", other, "") is (other == branch)
    assert not matches(rule, "ledger", "", branch)


@given(prefix=BRANCH, rest=st.text(max_size=10))
def test_a_star_crosses_slashes(prefix: str, rest: str) -> None:
    assert matches(_rule(branch=f"{prefix}/*"), "ledger", f"{prefix}/{rest}", "")
