"""Delivery commands: ``deploy``, ``promote``, ``rollback``, ``approve``, ``plan``, ``releases``,
``logs`` and ``build report`` (the last step of a CI pipeline)."""

from __future__ import annotations

import argparse
import sys
import time

from threeport.delivery.v1alpha1 import deployment_pb2, release_pb2
from threeport.registry.v1alpha1 import build_pb2
from threeport.sdk import Client, NotFoundError, WaitTimeoutError
from threeport_cli.durations import parse_duration
from threeport_cli.errors import CommandError
from threeport_cli.exit_codes import ExitCode
from threeport_cli.printers import age_text, release_approval, release_images, release_reason, render_table
from threeport_cli.session import add_context_flags, client_for, context_for, project_for
from threeport_cli.waiting import progress, wait_ready
from threeport_model.auto_deploy import any_rule_matches

ACTIONS = {
    deployment_pb2.OBJECT_ACTION_CREATE: "create",
    deployment_pb2.OBJECT_ACTION_UPDATE: "update",
    deployment_pb2.OBJECT_ACTION_PRUNE: "prune",
    deployment_pb2.OBJECT_ACTION_UNCHANGED: "unchanged",
}


def _project(options: argparse.Namespace) -> str:
    project = project_for(options, context_for(options))
    if not project:
        raise CommandError("no project: pass --project or set one in the context", ExitCode.USAGE)
    return project


def _deployment(project: str, application: str, environment: str) -> str:
    return f"projects/{project}/deployments/{application}-{environment}"


def _name_arg(project: str, name: str) -> str:
    return name if name.startswith("projects/") else f"projects/{project}/deployments/{name}"


def _wait(client: Client, options: argparse.Namespace, name: str, release: int = 0) -> None:
    """``--wait``: until ``release`` (when the server named one) is the one running, then until
    Ready. A promotion or rollback changes what runs without changing the deployment's spec, so
    Ready for the current generation alone could still speak of the release before it."""
    if not options.wait:
        return
    deadline = time.monotonic() + parse_duration(options.timeout)
    if release:
        with progress(f"waiting for {name} to run release {release}"):
            while (found := client.deployment.get_deployment(name=name)).status.current_release < release:
                if time.monotonic() >= deadline:
                    raise WaitTimeoutError(f"{name} did not start running release {release} within {options.timeout}",
                                           name=name, conditions=found.conditions, state=found.state)
                time.sleep(0.5)
    wait_ready(client, [name], max(deadline - time.monotonic(), 0.1))


def run_deploy(options: argparse.Namespace) -> int:
    project = _project(options)
    with client_for(context_for(options)) as client:
        deployment = client.deployment.deploy(parent=f"projects/{project}", application=options.application,
                                              environment=options.env, validate_only=options.dry_run)
        print(f"deployment/{deployment.name.rsplit('/', 1)[-1]} deploying" + (" (dry run)" if options.dry_run else ""))
        if not options.dry_run:
            _wait(client, options, deployment.name)
    return ExitCode.OK


def run_promote(options: argparse.Namespace) -> int:
    project = _project(options)
    with client_for(context_for(options)) as client:
        response = client.deployment.promote(parent=f"projects/{project}", application=options.application,
                                             from_environment=getattr(options, "from"), to_environment=options.to)
        release = response.release
        number = f"release {release.number}" if release.number else "a new release"
        print(f"deployment/{response.deployment.name.rsplit('/', 1)[-1]}: {number} from {getattr(options, 'from')}")
        if release.approval == release_pb2.APPROVAL_STATE_PENDING:
            print(f"waiting for approval: tptctl approve deployment {response.deployment.name.rsplit('/', 1)[-1]}",
                  file=sys.stderr)
        _wait(client, options, response.deployment.name, release.number)
    return ExitCode.OK


def run_rollback(options: argparse.Namespace) -> int:
    if options.to_release is not None and options.to_release < 1:
        raise CommandError(f"--to-release {options.to_release} is not a release number: give 1 or more "
                           f"(see tptctl releases {options.application} --env {options.env}), or leave it "
                           "out to roll back to the release before the current one", ExitCode.INVALID_INPUT)
    project = _project(options)
    name = _deployment(project, options.application, options.env)
    with client_for(context_for(options)) as client:
        response = client.deployment.rollback(name=name, to_release=options.to_release or 0)
        source = response.release.source_release.rsplit("/", 1)[-1] or str(options.to_release or "previous")
        print(f"deployment/{name.rsplit('/', 1)[-1]}: release {response.release.number or '?'} "
              f"re-applies release {source}")
        for note in response.notes:
            print(f"note: {note}", file=sys.stderr)
        _wait(client, options, name, response.release.number)
    return ExitCode.OK


def run_approve(options: argparse.Namespace) -> int:
    project = _project(options)
    name = _name_arg(project, options.name)
    with client_for(context_for(options)) as client:
        deployment = client.deployment.approve(name=name, release=options.release or 0)
        print(f"deployment/{deployment.name.rsplit('/', 1)[-1]} approved")
        _wait(client, options, name)
    return ExitCode.OK


def _tree(node: deployment_pb2.PlanNode, depth: int = 0) -> None:
    state = {0: "-", 1: "pending", 2: "reconciling", 3: "ready", 4: "failed", 5: "deleting"}.get(node.state, "?")
    print(f"{'  ' * depth}{node.kind} {node.name} [{state}]" + (f": {node.message}" if node.message else ""))
    for child in node.children:
        _tree(child, depth + 1)


def run_plan(options: argparse.Namespace) -> int:
    project = _project(options)
    with client_for(context_for(options)) as client:
        plan = client.deployment.plan(parent=f"projects/{project}", application=options.application,
                                      environment=options.env)
    _tree(plan.root)
    print()
    table = [["ACTION", "KIND", "NAMESPACE", "NAME"]]
    table += [[ACTIONS.get(c.action, "?"), c.kind, c.namespace or "-", c.name] for c in plan.changes]
    print(render_table(table))
    for change in plan.changes:
        if change.diff:
            print(change.diff)
    if plan.merged:
        print()
        merged = [["COMPONENT", "FIELD", "VALUE", "FROM"]]
        merged += [[m.component, m.field, m.value, m.source] for m in plan.merged]
        print(render_table(merged))
    return ExitCode.OK


def run_logs(options: argparse.Namespace) -> int:
    project = _project(options)
    try:
        since = int(parse_duration(options.since)) if options.since else 0
    except ValueError as error:
        raise CommandError(f"--since: {error}", ExitCode.USAGE) from None
    if options.tail is not None and options.tail < 0:
        raise CommandError("--tail: give a number of lines, 0 or more", ExitCode.USAGE)
    with client_for(context_for(options)) as client:
        stream = client.deployment.stream_logs(
            name=_name_arg(project, options.deployment), component=options.component or "", follow=options.follow,
            since_seconds=since, tail_lines=options.tail or 0, timestamps=options.timestamps)
        try:
            for entry in stream:
                print(entry.line if options.no_prefix else f"[{entry.pod}] {entry.line}", flush=options.follow)
        except KeyboardInterrupt:
            if not options.follow:
                raise  # Ctrl-C ends a follow normally, as with kubectl logs -f; anything else is cut short
    return ExitCode.OK


def run_releases(options: argparse.Namespace) -> int:
    project = _project(options)
    name = _deployment(project, options.application, options.env)
    with client_for(context_for(options)) as client:
        releases = list(client.release.list_releases(parent=name))
    table = [["RELEASE", "REASON", "APPROVAL", "AGE", "IMAGES", "MESSAGE"]]
    for release in releases:
        table.append([str(release.number), release_reason(release), release_approval(release),
                      age_text(release), release_images(release), release.message])
    print(render_table(table))
    return ExitCode.OK


def run_build_report(options: argparse.Namespace) -> int:
    project = _project(options)
    if not options.branch and not options.tag:
        raise CommandError("give --branch or --tag so that auto-deploy rules can match the build", ExitCode.USAGE)
    parent = f"projects/{project}/applications/{options.application}"
    spec = build_pb2.BuildSpec(component=options.component, image=options.image, digest=options.digest or "",
                               branch=options.branch or "", tag=options.tag or "", commit=options.commit or "",
                               url=options.url or "")
    with client_for(context_for(options)) as client:
        build = client.build.report_build(parent=parent, build=build_pb2.Build(spec=spec),
                                          request_id=options.request_id or None)
        print(f"build/{build.name.rsplit('/', 1)[-1]} reported")
        rolling: list[str] = []
        for deployment in client.deployment.list_deployments(
                parent=f"projects/{project}", filter=f'spec.application = "{options.application}"'):
            try:
                environment = client.environment.get_environment(
                    name=f"projects/{project}/environments/{deployment.spec.environment}")
            except NotFoundError:
                continue
            if any_rule_matches(environment.spec.auto_deploy, options.application, spec.branch, spec.tag):
                rolling.append(deployment.name)
                print(f"deployment/{deployment.name.rsplit('/', 1)[-1]} will roll out "
                      + (f"{spec.image}@{spec.digest}" if spec.digest else spec.image))
        if not rolling:
            print("no deployment's auto-deploy rules match this build")
        for name in rolling if options.wait else []:
            wait_ready(client, [name], parse_duration(options.timeout))
    return ExitCode.OK


def _waiting(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true", help="wait until the deployment is ready")
    parser.add_argument("--timeout", default="5m", help="how long --wait waits (default 5m)")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deploy = commands.add_parser("deploy", help="deploy an application to an environment")
    deploy.add_argument("application")
    deploy.add_argument("--env", required=True, help="the environment, e.g. staging")
    deploy.add_argument("--dry-run", action="store_true", help="check everything, change nothing")
    _waiting(deploy)
    add_context_flags(deploy)
    deploy.set_defaults(run=run_deploy)

    promote = commands.add_parser("promote", help="promote what runs in one environment to another")
    promote.add_argument("application")
    promote.add_argument("--from", required=True, help="the source environment")
    promote.add_argument("--to", required=True, help="the target environment")
    _waiting(promote)
    add_context_flags(promote)
    promote.set_defaults(run=run_promote)

    rollback = commands.add_parser("rollback", help="re-apply an earlier release (not its data)")
    rollback.add_argument("application")
    rollback.add_argument("--env", required=True)
    rollback.add_argument("--to-release", type=int, help="the release number (default: the one before)")
    _waiting(rollback)
    add_context_flags(rollback)
    rollback.set_defaults(run=run_rollback)

    approve = commands.add_parser("approve", help="approve the release waiting in an environment (admins)")
    approve.add_argument("kind", choices=["deployment", "deployments", "deploy"])
    approve.add_argument("name", help="the deployment, e.g. shop-prod")
    approve.add_argument("--release", type=int, help="the release number (default: the pending one)")
    _waiting(approve)
    add_context_flags(approve)
    approve.set_defaults(run=run_approve)

    plan = commands.add_parser(
        "plan", help="show the dependency tree and the object changes, changing nothing",
        description="Show what deploying APPLICATION to --env would do, changing nothing: the dependency tree, "
        "the Kubernetes objects it would create, update or prune (with diffs), and each component's effective "
        "replicas, env, resources and Helm values with where each came from (application, environment/ENV "
        "overrides, deployment/NAME overrides, or release/N when a rollback pins the configuration).")
    plan.add_argument("application")
    plan.add_argument("--env", required=True)
    add_context_flags(plan)
    plan.set_defaults(run=run_plan)

    logs = commands.add_parser(
        "logs", help="print (or follow) the logs of a deployment's pods",
        description="Print the logs of DEPLOYMENT's pods (e.g. shop-dev), read from its cluster through the API "
        "gateway with your project role (viewer or above): every started pod of every component, or of "
        "--component only. Each line is prefixed with its pod's name unless --no-prefix. With -f the command "
        "keeps printing new lines until Ctrl-C or until the pods stop; pods started after it began are not "
        "picked up (run it again after a rollout).")
    logs.add_argument("deployment", help="the deployment, e.g. shop-dev (or its full name)")
    logs.add_argument("--component", "-c", help="only this component's pods")
    logs.add_argument("-f", "--follow", action="store_true", help="keep streaming new lines")
    logs.add_argument("--since", help="only lines newer than this, e.g. 10m, 1h, 90s")
    logs.add_argument("--tail", type=int, help="only the last N lines of each pod (before following)")
    logs.add_argument("--timestamps", action="store_true", help="prefix each line with when it was written")
    logs.add_argument("--no-prefix", action="store_true", help="print lines without their pod's name")
    add_context_flags(logs)
    logs.set_defaults(run=run_logs)

    releases = commands.add_parser("releases", help="the release history of a deployment")
    releases.add_argument("application")
    releases.add_argument("--env", required=True)
    add_context_flags(releases)
    releases.set_defaults(run=run_releases)

    build = commands.add_parser("build", help="builds reported by CI")
    verbs = build.add_subparsers(dest="verb", metavar="VERB", required=True)
    report = verbs.add_parser("report", help="report a built image (the last step of CI)",
                              description="Report an image CI built; prints the deployments whose environment's "
                              "auto-deploy rules match and will roll it out. Authenticate with a deployer token.")
    report.add_argument("application")
    report.add_argument("--component", required=True)
    report.add_argument("--image", required=True, help="the image reference, e.g. ghcr.io/acme/api:1.4.2")
    report.add_argument("--digest", help="sha256:... (deployments pin it)")
    report.add_argument("--branch")
    report.add_argument("--tag")
    report.add_argument("--commit")
    report.add_argument("--url", help="a link to the CI run")
    report.add_argument("--request-id", help="makes a retried report idempotent, e.g. the CI run id")
    _waiting(report)
    add_context_flags(report)
    report.set_defaults(run=run_build_report)
