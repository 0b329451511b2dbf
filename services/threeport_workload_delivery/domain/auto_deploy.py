"""Which builds an environment's auto-deploy rules select.

A copy of the registry's ``threeport_registry.domain.auto_deploy``; the two must agree: a rule
with neither branch nor tag matches nothing; ``application`` must equal the build's application
id; branch and tag are ``fnmatchcase`` globs over the whole name (``*`` crosses ``/``); a rule
with both needs both; a glob never matches an empty branch or tag.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from threeport.registry.v1alpha1 import environment_pb2


def matches(rule: environment_pb2.AutoDeployRule, application_id: str, branch: str, tag: str) -> bool:
    if not rule.branch and not rule.tag:
        return False
    if rule.application and rule.application != application_id:
        return False
    if rule.branch and not (branch and fnmatchcase(branch, rule.branch)):
        return False
    return not (rule.tag and not (tag and fnmatchcase(tag, rule.tag)))


def any_rule_matches(
    rules: Iterable[environment_pb2.AutoDeployRule], application_id: str, branch: str, tag: str
) -> bool:
    return any(matches(rule, application_id, branch, tag) for rule in rules)
