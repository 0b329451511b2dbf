"""``tptctl install`` and ``tptctl uninstall``: the Threeport control plane on a Kubernetes cluster.

The chart in ``deploy/helm/threeport`` is rendered with real Helm, in-process (the same library
the platform uses for charts), and applied with server-side apply: configuration, Secrets,
Services and bundled datastores first, then each service's migration Job, then the services.
Running ``install`` again upgrades: migrations run before any pod of the new version starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from threeport_cli.commands.clusters import default_kubeconfig
from threeport_cli.durations import parse_duration
from threeport_cli.errors import CommandError
from threeport_cli.exit_codes import ExitCode
from threeport_cli.install.cluster import Cluster, ClusterError
from threeport_cli.install.plan import Plan, kept_secrets, kept_values
from threeport_runtime.helm import ChartError, RenderedObject, load_values, merge_values, parse_set, render_chart

DEFAULT_NAMESPACE = "threeport"
DEFAULT_RELEASE = "threeport"


def default_chart() -> Path:
    """``$THREEPORT_CHART``, else the chart next to this source tree (also where the image has it)."""
    configured = os.environ.get("THREEPORT_CHART", "")
    if configured:
        return Path(configured)
    import threeport_cli

    return Path(threeport_cli.__file__).resolve().parents[2] / "deploy" / "helm" / "threeport"


def _values(options: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    try:
        for path in options.values or []:
            values = merge_values(values, load_values(Path(path)))
        for expression in options.set or []:
            values = merge_values(values, parse_set(expression))
    except ChartError as error:
        raise CommandError(str(error), ExitCode.INVALID_INPUT) from None
    return values


def _render(options: argparse.Namespace, values: dict[str, Any]) -> list[RenderedObject]:
    chart = Path(options.chart) if options.chart else default_chart()
    if not (chart / "Chart.yaml").is_file():
        raise CommandError(f"no Helm chart at {chart}: pass --chart DIR or set THREEPORT_CHART", ExitCode.USAGE)
    try:
        return render_chart(chart, values, release=options.release, namespace=options.namespace)
    except ChartError as error:
        raise CommandError(str(error), ExitCode.INVALID_INPUT) from None


def _cluster(options: argparse.Namespace) -> Cluster:
    try:
        return Cluster(options.kubeconfig or default_kubeconfig(), options.kube_context)
    except ClusterError as error:
        raise CommandError(str(error)) from None


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_install(options: argparse.Namespace) -> int:
    values = _values(options)
    try:
        timeout = parse_duration(options.timeout)
    except ValueError as error:
        raise CommandError(f"--timeout: {error}", ExitCode.USAGE) from None
    # Rendered before any cluster call: bad values are refused without touching the cluster.
    objects = _render(options, values)
    if options.dry_run:
        sys.stdout.write(yaml.safe_dump_all([item.body for item in objects], sort_keys=False))
        return ExitCode.OK
    cluster = _cluster(options)
    namespace = options.namespace
    try:
        # Generated-once Secrets keep their content, as Helm's `lookup` would keep it.
        existing: dict[str, Any] = {}
        for name in kept_secrets(objects):
            existing.update(kept_values(cluster.secret_data(name, namespace) or {}))
        if existing:
            values = merge_values({"secrets": existing}, values)
        plan = Plan.of(_render(options, values))
        _say(f"installing release {options.release} into namespace {namespace} on {cluster.server}")
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, namespace)
        for item in [*plan.first, *plan.datastores]:
            cluster.apply(item.body, namespace)
        _say(f"applied {len(plan.first) + len(plan.datastores)} objects (configuration, secrets, services)")
        for item in plan.datastores:
            cluster.wait(item.api_version, item.kind, item.name, namespace, timeout=timeout, progress=_say)
        for job in plan.migrations:
            # A Job's template cannot change: replace it (Helm's before-hook-creation).
            cluster.delete(job.api_version, job.kind, job.name, namespace)
            cluster.apply(job.body, namespace)
        if plan.migrations:
            _say(f"running {len(plan.migrations)} migration jobs")
        for job in plan.migrations:
            cluster.wait(job.api_version, job.kind, job.name, namespace, timeout=timeout, progress=_say)
        for item in plan.workloads:
            cluster.apply(item.body, namespace)
        _say(f"applied {len(plan.workloads)} services")
        if options.wait:
            for item in plan.workloads:
                cluster.wait(item.api_version, item.kind, item.name, namespace, timeout=timeout, progress=_say)
    except ClusterError as error:
        raise CommandError(str(error)) from None
    except TimeoutError as error:
        raise CommandError(str(error), ExitCode.TIMED_OUT) from None
    secret = next((item.name for item in plan.first if item.kind == "Secret" and item.name in kept_secrets(plan.first)
                   and "bootstrap-token" in item.body.get("stringData", {})), None)
    if secret is not None:
        _say(
            "done. The first administrator's token:\n"
            f"  kubectl -n {namespace} get secret {secret} -o jsonpath='{{.data.bootstrap-token}}' | base64 -d"
        )
    else:
        _say("done. The first administrator's token is the bootstrap-token of your existing Secret "
             "(or, without one, printed once in the log of the api-gateway replica that created it)")
    return ExitCode.OK


def run_uninstall(options: argparse.Namespace) -> int:
    values = _values(options)
    cluster = _cluster(options)
    namespace = options.namespace
    objects = [*_render(options, values), *_render(options, {})]
    kept = set(kept_secrets(objects))
    selector = f"app.kubernetes.io/name=threeport,app.kubernetes.io/instance={options.release}"
    kinds = sorted({(item.api_version, item.kind) for item in objects}, key=lambda k: (k[1] == "Secret", k))
    removed = 0
    try:
        for api_version, kind in kinds:
            try:
                names = cluster.delete_labelled(api_version, kind, selector, namespace) if kind != "Secret" else []
            except ClusterError:
                continue  # a kind this cluster does not serve (e.g. ServiceMonitor): nothing to delete
            removed += len(names)
        for item in objects:
            if item.kind == "Secret" and item.name not in kept and cluster.delete("v1", "Secret", item.name, namespace):
                removed += 1
    except ClusterError as error:
        raise CommandError(str(error)) from None
    _say(f"deleted {removed} objects of release {options.release} in namespace {namespace}")
    if kept:
        _say(
            f"kept the Secrets {', '.join(sorted(kept))} (encryption keys and credentials: without them the "
            "database's encrypted data cannot be read) and any volumes of bundled datastores; delete them with "
            f"kubectl -n {namespace} delete secret ... / pvc ... when you no longer need the data"
        )
    return ExitCode.OK


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--kube-context", dest="kube_context", help="the kubeconfig context (default: its current one)")
    parser.add_argument("-n", "--namespace", default=DEFAULT_NAMESPACE, help=f"namespace (default {DEFAULT_NAMESPACE})")
    parser.add_argument("--release", default=DEFAULT_RELEASE, help=f"release name (default {DEFAULT_RELEASE})")
    parser.add_argument("-f", "--values", action="append", metavar="FILE",
                        help="a values file; repeat to layer several (later ones win)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="set a value, Helm syntax (a.b=1,c=x); applied after the files")
    parser.add_argument("--chart", help="the chart directory (default: $THREEPORT_CHART or deploy/helm/threeport)")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    install = commands.add_parser(
        "install",
        help="install or upgrade the Threeport control plane on a Kubernetes cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(install)
    install.add_argument("--wait", action="store_true", help="wait until every service is available")
    install.add_argument("--timeout", default="5m", help="how long to wait for each step (default 5m)")
    install.add_argument("--dry-run", action="store_true", help="print the rendered objects; change nothing")
    install.set_defaults(run=run_install)
    uninstall = commands.add_parser(
        "uninstall",
        help="remove the control plane from a cluster (keeps its keys and data)",
        description="Deletes every object of the release except the Secrets with the encryption keys and "
        "credentials, and the volumes of bundled datastores.",
    )
    _common(uninstall)
    uninstall.set_defaults(run=run_uninstall)
