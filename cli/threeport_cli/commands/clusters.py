"""``tptctl cluster attach|create``: the cluster verbs beyond the generic get/describe/delete.

``attach`` sends a self-contained kubeconfig: files it refers to (certificate authority,
client certificate and key, token file) are read here and inlined, since the control plane
cannot read the caller's disk.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport_cli.durations import parse_duration
from threeport_cli.errors import CommandError
from threeport_cli.exit_codes import ExitCode
from threeport_cli.session import client_for, context_for
from threeport_cli.waiting import wait_ready

PROVIDERS = ("sim", "eks", "kind")
_FILE_FIELDS = {
    "certificate-authority": "certificate-authority-data",
    "client-certificate": "client-certificate-data",
    "client-key": "client-key-data",
}


def parse_labels(values: list[str] | None) -> dict[str, str]:
    """``-l a=b -l c=d`` or ``-l a=b,c=d`` as a dict; a malformed item is a usage error."""
    labels: dict[str, str] = {}
    for value in values or []:
        for item in filter(None, (part.strip() for part in value.split(","))):
            key, sep, label = item.partition("=")
            if not sep or not key:
                raise CommandError(f"label {item!r} must look like key=value", ExitCode.USAGE)
            labels[key] = label
    return labels


def default_kubeconfig() -> str:
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return first or str(Path.home() / ".kube" / "config")


def _read(base: Path, reference: str) -> bytes:
    path = Path(os.path.expanduser(reference))
    path = path if path.is_absolute() else base / path
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"the kubeconfig refers to {path}, which cannot be read: {error.strerror}") from None


def flatten_kubeconfig(text: str, base: Path) -> str:
    """The kubeconfig with every file reference replaced by the file's content."""
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        raise CommandError("the kubeconfig is not valid YAML", ExitCode.INVALID_INPUT) from None
    if not isinstance(document, dict):
        raise CommandError("the kubeconfig is not a kubeconfig file", ExitCode.INVALID_INPUT)
    for section, inner in (("clusters", "cluster"), ("users", "user")):
        for entry in document.get(section) or []:
            body = entry.get(inner) if isinstance(entry, dict) else None
            if not isinstance(body, dict):
                continue
            for file_field, data_field in _FILE_FIELDS.items():
                if body.get(file_field):
                    body[data_field] = base64.b64encode(_read(base, str(body.pop(file_field)))).decode()
            if body.get("token-file"):
                body["token"] = _read(base, str(body.pop("token-file"))).decode().strip()
    return yaml.safe_dump(document, sort_keys=False)


def run_attach(options: argparse.Namespace) -> int:
    path = Path(options.kubeconfig or default_kubeconfig())
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CommandError(f"cannot read the kubeconfig {path}: {error.strerror}", ExitCode.INVALID_INPUT) from None
    kubeconfig = flatten_kubeconfig(text, path.parent)
    context = context_for(options)
    with client_for(context) as client:
        cluster = client.cluster.attach_cluster(
            cluster_id=options.name,
            kubeconfig=kubeconfig,
            context=options.kube_context or "",
            location=options.location or "",
            labels=parse_labels(options.label),
            validate_only=options.dry_run,
        )
        print(f"cluster/{options.name} attached{' (dry run)' if options.dry_run else ''}")
        if options.wait and not options.dry_run:
            wait_ready(client, [cluster.name], parse_duration(options.timeout))
    return ExitCode.OK


def run_create(options: argparse.Namespace) -> int:
    profile = options.profile or ""
    if profile and not profile.startswith("clusterProfiles/"):
        profile = f"clusterProfiles/{profile}"
    spec = cluster_pb2.ClusterSpec(
        provider=options.provider,
        location=options.location or "",
        profile=profile,
        kubernetes_version=options.kubernetes_version or "",
        account=(f"accounts/{options.account}" if options.account and "/" not in options.account else options.account)
        or "",
    )
    context = context_for(options)
    with client_for(context) as client:
        cluster = client.cluster.create_cluster(
            cluster_id=options.name,
            cluster=cluster_pb2.Cluster(spec=spec, labels=parse_labels(options.label)),
            validate_only=options.dry_run,
        )
        print(f"cluster/{options.name} created{' (dry run)' if options.dry_run else ''}")
        if options.wait and not options.dry_run:
            wait_ready(client, [cluster.name], parse_duration(options.timeout))
    return ExitCode.OK


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the cluster's id (a DNS label), e.g. prod-use1")
    parser.add_argument("--location", help="where it is, e.g. NorthAmerica:NewYork")
    parser.add_argument("-l", "--label", action="append", help="a label key=value (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="validate on the server, change nothing")
    parser.add_argument("--wait", action="store_true", help="wait until the cluster is Ready")
    parser.add_argument("--timeout", default="5m", help="how long --wait waits (default 5m)")


def _tptctl_context(parser: argparse.ArgumentParser, flag: str) -> None:
    parser.add_argument(flag, dest="context", help="use this tptctl context instead of the current one")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cluster = commands.add_parser("cluster", help="attach or create Kubernetes clusters (operators)")
    verbs = cluster.add_subparsers(dest="cluster_command", metavar="VERB")
    attach = verbs.add_parser(
        "attach",
        help="attach an existing cluster from a kubeconfig",
        description="Checks connectivity, credentials and version, then stores the credentials encrypted.",
    )
    _common(attach)
    attach.add_argument("--kubeconfig", help="the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    # Here `--context` is the kubeconfig's context, as with kubectl; the tptctl context moves aside.
    attach.add_argument(
        "--context", "--kube-context", dest="kube_context", help="the kubeconfig context (default: its current one)"
    )
    _tptctl_context(attach, "--threeport-context")
    attach.set_defaults(run=run_attach)
    create = verbs.add_parser("create", help="provision a new cluster with a provider")
    _common(create)
    create.add_argument("--provider", required=True, choices=PROVIDERS)
    create.add_argument("--profile", help="the ClusterProfile, e.g. standard")
    create.add_argument("--kubernetes-version", help="e.g. 1.32 (default: the provider's)")
    create.add_argument("--account", help="the infra-provider account for eks, e.g. aws-main")
    _tptctl_context(create, "--context")
    create.set_defaults(run=run_create)

    def usage(_options: argparse.Namespace) -> int:
        cluster.print_help(sys.stderr)
        return ExitCode.USAGE

    cluster.set_defaults(run=usage)
