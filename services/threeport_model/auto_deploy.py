"""Which builds an environment's auto-deploy rules select.

Semantics (workload-delivery rolls out by them; ``tptctl build report`` tells CI what they select):

- A rule with neither ``branch`` nor ``tag`` matches nothing.
- ``application``, when set, must equal the build's application id exactly.
- ``branch`` and ``tag`` are globs matched with ``fnmatch.fnmatchcase`` against the whole
  branch or tag: case-sensitive, ``*`` matches any run of characters *including* ``/``
  (``release/*`` matches ``release/1.0`` and ``release/1.0/hotfix``), ``?`` one character,
  ``[abc]`` / ``[!abc]`` a set.
- When a rule sets both, the build must match both. A rule's glob never matches an empty
  branch or tag (a tag-only build does not match a branch rule ``*``).
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from threeport.registry.v1alpha1 import environment_pb2


def matches(rule: environment_pb2.AutoDeployRule, application_id: str, branch: str, tag: str) -> bool:
    """Whether the rule selects a build of ``application_id`` from ``branch`` / ``tag``."""
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
