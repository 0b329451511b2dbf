"""Reads one context of a kubeconfig into a ``Connection``, refusing what a server cannot use.

The kubeconfig comes from the caller's machine, so file references (``certificate-authority``,
``token-file``, ...) point at files the server does not have, and ``exec``/``auth-provider``
plugins would run programs on the control plane. Both are refused with a message saying how
to produce a self-contained kubeconfig.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import yaml

from threeport_runtime.kube.connection import Connection

FLATTEN_HINT = "inline the files with `kubectl config view --minify --flatten --raw`"


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used; the message says why and how to fix it."""


def parse_kubeconfig(text: str, context: str = "") -> Connection:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise KubeconfigError(f"the kubeconfig is not valid YAML{where}") from None
    if not isinstance(document, dict) or not document.get("clusters") or not document.get("contexts"):
        raise KubeconfigError("the kubeconfig has no clusters or contexts; is it a kubeconfig file?")
    chosen = context or str(document.get("current-context") or "")
    if not chosen:
        raise KubeconfigError("the kubeconfig has no current-context; pick one with --context")
    context_entry = _named(document, "contexts", chosen).get("context") or {}
    cluster_name = str(context_entry.get("cluster") or "")
    user_name = str(context_entry.get("user") or "")
    if not cluster_name:
        raise KubeconfigError(f"context {chosen!r} names no cluster")
    cluster = _named(document, "clusters", cluster_name).get("cluster") or {}
    user = (_named(document, "users", user_name).get("user") or {}) if user_name else {}
    server = str(cluster.get("server") or "")
    if not server.startswith(("https://", "http://")):
        raise KubeconfigError(f"cluster {cluster_name!r} has no http(s) server URL")
    for key in ("certificate-authority", "client-certificate", "client-key", "token-file"):
        if (cluster if key == "certificate-authority" else user).get(key):
            raise KubeconfigError(f"the kubeconfig refers to the file {key!r}; {FLATTEN_HINT}")
    for key in ("exec", "auth-provider"):
        if user.get(key):
            raise KubeconfigError(
                f"user {user_name!r} authenticates with an {key} plugin, which the control plane "
                "will not run; use a service-account token or a client certificate instead"
            )
    if user.get("username") or user.get("password"):
        raise KubeconfigError("basic authentication is not supported; use a token or a client certificate")
    connection = Connection(
        server=server.rstrip("/"),
        certificate_authority_data=_data(cluster, "certificate-authority-data"),
        token=str(user.get("token") or ""),
        client_certificate_data=_data(user, "client-certificate-data"),
        client_key_data=_data(user, "client-key-data"),
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
    )
    if bool(connection.client_certificate_data) != bool(connection.client_key_data):
        raise KubeconfigError(f"user {user_name!r} has a client certificate without its key, or the reverse")
    if not connection.token and not connection.client_certificate_data:
        raise KubeconfigError(f"context {chosen!r} has no credentials: give its user a token or a client certificate")
    return connection


def _named(document: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    entries = document.get(section) or []
    if not isinstance(entries, list):
        raise KubeconfigError(f"the kubeconfig's {section} must be a list")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    known = ", ".join(str(e.get("name")) for e in entries if isinstance(e, dict)) or "none"
    raise KubeconfigError(f"the kubeconfig has no {section[:-1]} named {name!r} (it has: {known})")


def _data(section: dict[str, Any], key: str) -> bytes:
    value = section.get(key)
    if not value:
        return b""
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise KubeconfigError(f"{key} is not valid base64") from None
