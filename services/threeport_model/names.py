"""Syntax of identifiers: DNS labels and names, port names, env var names, Kubernetes labels,
and resource names such as ``clusters/{cluster}``.

``is_dns_label`` is the one label check every service uses for ids (projects, applications,
clusters, deployments, namespaces, ...). Each ``check_*`` function returns ``None`` when the text
is valid, or a description of what is allowed (a sentence a user can act on) when it is not.
"""

from __future__ import annotations

import re

MAX_LABEL_LENGTH = 63
MAX_SUBDOMAIN_LENGTH = 253
MAX_PORT_NAME_LENGTH = 15

# Ids, component, dependency and storage names must start with a letter (not just be DNS-1123
# labels): they become Kubernetes Service and object names, and Services need DNS-1035 labels.
_ID = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_PORT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

ID_RULE = (
    "lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, "
    "at most 63 characters"
)


def is_dns_label(text: str) -> bool:
    """Whether the text is an id: a DNS-1123 label (at most 63 lowercase letters, digits and '-')
    that starts with a letter, so that it is also a valid DNS-1035 label (Service names)."""
    return len(text) <= MAX_LABEL_LENGTH and _ID.fullmatch(text) is not None


def check_id(text: str) -> str | None:
    """An id, component, dependency or storage name: a DNS-1123 label starting with a letter."""
    if not text:
        return f"is required: {ID_RULE}"
    if len(text) > MAX_LABEL_LENGTH:
        return f"{text!r} is {len(text)} characters long; at most 63 allowed ({ID_RULE})"
    if not is_dns_label(text):
        return f"{text!r} is not valid: use {ID_RULE}"
    return None


def check_dns_name(text: str, *, allow_wildcard: bool = False) -> str | None:
    """A DNS-1123 subdomain such as ``ledger.example.com``; ``*.example.com`` if wildcards are allowed."""
    rule = (
        "a DNS name of lowercase letters, digits, '-' and '.' (e.g. ledger.example.com), "
        "at most 253 characters"
    )
    if allow_wildcard:
        rule += ", optionally starting with '*.'"
    name = text[2:] if allow_wildcard and text.startswith("*.") else text
    if not name or len(text) > MAX_SUBDOMAIN_LENGTH:
        return f"{text!r} is not valid: use {rule}"
    for label in name.split("."):
        if len(label) > MAX_LABEL_LENGTH or not _DNS_LABEL.fullmatch(label):
            return f"{text!r} is not valid: use {rule}; each dot-separated part at most 63 characters"
    return None


def check_port_name(text: str) -> str | None:
    """A port name (Kubernetes IANA_SVC_NAME): at most 15 lowercase letters, digits and single hyphens."""
    rule = (
        "at most 15 lowercase letters, digits and '-', with at least one letter, "
        "no leading, trailing or double '-' (e.g. http, grpc-api)"
    )
    if not text:
        return f"is required: {rule}"
    if (
        len(text) > MAX_PORT_NAME_LENGTH
        or not _PORT_NAME.fullmatch(text)
        or "--" in text
        or not any(c.isalpha() for c in text)
    ):
        return f"{text!r} is not a valid port name: use {rule}"
    return None


def check_env_var_name(text: str) -> str | None:
    """An environment variable name: a letter or '_' then letters, digits or '_'."""
    if not _ENV_VAR.fullmatch(text):
        return (
            f"{text!r} is not a valid variable name: use letters, digits and '_', not starting with a digit"
        )
    return None


def check_label_key(text: str) -> str | None:
    """A Kubernetes label or annotation key: ``[prefix/]name``."""
    rule = (
        "use [prefix/]name: name at most 63 letters, digits, '-', '_' and '.', starting and ending "
        "with a letter or digit; prefix a DNS name (e.g. example.com/team)"
    )
    prefix, slash, name = text.rpartition("/")
    if slash and check_dns_name(prefix) is not None:
        return f"key {text!r} has an invalid prefix {prefix!r}: {rule}"
    if not name or len(name) > MAX_LABEL_LENGTH or not _LABEL_NAME.fullmatch(name):
        return f"key {text!r} is not valid: {rule}"
    return None


def check_label_value(text: str) -> str | None:
    """A Kubernetes label value: empty, or at most 63 of [A-Za-z0-9-_.] with alphanumeric ends."""
    if text and (len(text) > MAX_LABEL_LENGTH or not _LABEL_NAME.fullmatch(text)):
        return (
            f"value {text!r} is not valid: use at most 63 letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit (or leave it empty)"
        )
    return None


def parse_resource_name(text: str, collection: str) -> str | None:
    """The id in ``{collection}/{id}`` (e.g. ``clusters/prod-use1``), or None if it is not one."""
    head, slash, tail = text.partition("/")
    if head != collection or not slash or check_id(tail) is not None:
        return None
    return tail


def check_resource_name(text: str, collection: str) -> str | None:
    """A global resource name ``{collection}/{id}``."""
    if parse_resource_name(text, collection) is None:
        return f"{text!r} is not a valid name: use {collection}/ID where ID is {ID_RULE}"
    return None


def parse_environment_name(text: str) -> tuple[str, str] | None:
    """(project, environment) from ``projects/{project}/environments/{environment}``, or None."""
    parts = text.split("/")
    if (
        len(parts) != 4
        or parts[0] != "projects"
        or parts[2] != "environments"
        or check_id(parts[1]) is not None
        or check_id(parts[3]) is not None
    ):
        return None
    return parts[1], parts[3]
