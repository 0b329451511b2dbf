"""``apply``, ``get``, ``describe``, ``delete`` and ``diff``: any resource kind."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import yaml
from google.protobuf.message import Message

from threeport.sdk import ApiError, Client, NotFoundError, resources
from threeport.sdk._index import ResourceType
from threeport_cli import manifests, operations, ordering
from threeport_cli.commands.events import list_events, print_events
from threeport_cli.durations import parse_duration
from threeport_cli.errors import CommandError, report
from threeport_cli.exit_codes import ExitCode
from threeport_cli.manifests import Manifest
from threeport_cli.printers import FORMATS, print_resources, state_text
from threeport_cli.protojson import to_friendly_dict
from threeport_cli.session import add_context_flags, client_for, context_for, project_for
from threeport_cli.waiting import progress, wait_ready
from threeport_cli.watching import Follower

COMPARED_FIELDS = ("labels", "annotations", "spec")


def resource_type_for(word: str) -> ResourceType:
    try:
        return resources.lookup(word)
    except LookupError as error:
        forms = {form.lower(): t.plural for t in resources.all_types() for form in t.names}
        close = difflib.get_close_matches(word.lower(), forms, n=1, cutoff=0.6)
        if close:
            raise CommandError(f"unknown resource type {word!r}; did you mean {forms[close[0]]!r}? "
                               "(tptctl api-resources lists them)", ExitCode.USAGE) from None
        raise CommandError(str(error), ExitCode.USAGE) from None


def full_name(resource_type: ResourceType, name: str, project: str) -> str:
    """Accepts an id (`shop`) or a full name (`projects/acme/applications/shop`)."""
    if "/" in name:
        if not resource_type.matches(name):
            raise CommandError(f"{name!r} is not a {resource_type.kind} name "
                               f"({resource_type.patterns[0]})", ExitCode.USAGE)
        return name
    pattern = resource_type.patterns[0]
    if pattern.startswith("projects/{project}/") and pattern.count("/") == 3:
        if not project:
            raise CommandError("no project: pass --project or set one in the context", ExitCode.USAGE)
        return f"projects/{project}/{resource_type.plural}/{name}"
    if pattern.count("/") == 1:
        return f"{resource_type.plural}/{name}"
    raise CommandError(f"give the full name of the {resource_type.singular} ({pattern})", ExitCode.USAGE)


def parent_for(resource_type: ResourceType, project: str, parent: str = "") -> str:
    """The collection's parent; ids above the kind's own are AIP-159's ``-``, so that
    ``get releases`` lists the releases of every deployment of the project."""
    if parent:
        return parent
    segments = resource_type.patterns[0].split("/")[:-2]
    if not segments:
        return ""
    if "{project}" in segments and not project:
        raise CommandError("no project: pass --project or set one in the context", ExitCode.USAGE)
    return "/".join(project if s == "{project}" else "-" if s.startswith("{") else s for s in segments)


def comparable(message: Message) -> dict[str, Any]:
    data = to_friendly_dict(message)
    return {k: data[k] for k in COMPARED_FIELDS if k in data}


def desired_message(client: Client, manifest: Manifest) -> Message:
    """The resource a manifest asks for; a Score file is converted by the registry (once)."""
    if manifest.is_score and manifest.message is None:
        converted = client.application.convert_score(parent=manifest.parent, score_yaml=manifest.score_yaml)
        converted.application.name = manifest.name
        manifest.message = converted.application
        for warning in converted.warnings:
            print(f"warning: {manifest.source}: {warning}", file=sys.stderr)
    assert manifest.message is not None
    return manifest.message


def _application_name(manifest: Manifest) -> str | None:
    return manifest.name if manifest.kind == "Application" else None


def _applications_needed(manifest: Manifest) -> set[str]:
    """The applications this one's `application` dependencies name (full names)."""
    spec = getattr(manifest.message, "spec", None)
    if spec is None:
        return set()
    return {f"{manifest.parent}/applications/{dependency.params['application']}"
            for dependency in spec.dependencies.values()
            if dependency.type == "application" and "application" in dependency.params}


def dependencies_first(loaded: list[Manifest]) -> list[Manifest]:
    """Applications that others in this apply depend on come first (see `ordering`)."""
    try:
        return ordering.dependencies_first(loaded, _application_name, _applications_needed)
    except ordering.CycleError as error:
        shown = [name.rsplit("/", 1)[-1] for name in error.cycle]
        raise CommandError(f"these applications depend on each other in a circle: {' -> '.join(shown)}; "
                           "remove one of the dependencies", ExitCode.INVALID_INPUT) from None


def live_or_none(client: Client, resource_type: ResourceType, name: str) -> Message | None:
    try:
        return operations.get(client, resource_type, name)
    except NotFoundError:
        return None


def apply_one(client: Client, manifest: Manifest, dry_run: bool) -> tuple[str, Message]:
    assert manifest.resource_type is not None
    resource_type = manifest.resource_type
    desired = desired_message(client, manifest)
    live = live_or_none(client, resource_type, manifest.name)
    if live is None:
        created = operations.create(
            client, resource_type, desired, manifest.parent, manifest.resource_id, dry_run)
        return "created", created
    if comparable(live) == comparable(desired):
        return "unchanged", live
    desired.etag = live.etag  # type: ignore[attr-defined]
    updated = operations.update(client, resource_type, desired, dry_run)
    return "configured", updated


def manifest_fields(manifest: Manifest) -> dict[str, str]:
    """The API's names for what a manifest calls ``metadata.name`` (the create's ``<kind>_id``)."""
    if manifest.resource_type is None:
        return {}
    words = re.sub(r"(?<!^)(?=[A-Z])", "_", manifest.resource_type.message_type.DESCRIPTOR.name).lower()
    return {f"{words}_id": "metadata.name", f"{words}.name": "metadata.name"}


def first_refusal(client: Client, loaded: list[Manifest]) -> tuple[Manifest, ApiError] | None:
    """Dry-runs every document, so that one the server refuses means nothing is written.

    A document may refer to one that comes before it in the same apply (a Deployment of an
    Application defined above): NOT_FOUND naming such a document is not a refusal."""
    for manifest in loaded:
        try:
            apply_one(client, manifest, dry_run=True)
        except NotFoundError as error:
            if not any(other.name in error.message or f"'{other.resource_id}'" in error.message
                       for other in loaded if other is not manifest):
                return manifest, error
        except ApiError as error:
            return manifest, error
    return None


def run_apply(options: argparse.Namespace) -> int:
    context = context_for(options)
    project = project_for(options, context)
    loaded = manifests.load(options.filename, sys.stdin, project, options.project or "")
    suffix = " (dry run)" if options.dry_run else ""
    applied: list[str] = []
    with client_for(context) as client:
        for manifest in loaded:
            try:
                desired_message(client, manifest)
            except ApiError as refusal:
                return int(report(refusal, manifest.source, manifest_fields(manifest)))
        loaded = dependencies_first(loaded)
        if len(loaded) > 1 and not options.dry_run:
            refused = first_refusal(client, loaded)
            if refused is not None:
                manifest, error = refused
                return int(report(error, f"{manifest.source} (nothing was applied)", manifest_fields(manifest)))
        for manifest in loaded:
            try:
                outcome, _result = apply_one(client, manifest, options.dry_run)
            except ApiError as error:
                return int(report(error, manifest.source, manifest_fields(manifest)))
            kind = manifest.resource_type.singular if manifest.resource_type else manifest.kind
            print(f"{kind}/{manifest.resource_id} {outcome}{suffix}")
            applied.append(manifest.name)
        if options.env:
            try:
                applied += deploy_applications(client, loaded, options.env, options.dry_run)
            except ApiError as error:
                return int(report(error, f"deploying to {options.env}"))
        if options.wait and not options.dry_run:
            wait_ready(client, applied, parse_duration(options.timeout))
    return ExitCode.OK


def deploy_applications(client: Client, loaded: list[Manifest], environment: str, dry_run: bool) -> list[str]:
    """``apply --env``: deploys every Application of the apply (dependencies first, as applied);
    returns the deployments' names. A dry run only says what it would deploy: the applications
    it would create do not exist for the deployment service to check."""
    deployments: list[str] = []
    for manifest in loaded:
        if _application_name(manifest) is None:
            continue
        if dry_run:
            print(f"application/{manifest.resource_id} would be deployed to {environment} (dry run)")
            continue
        deployment = client.deployment.deploy(parent=manifest.parent, application=manifest.resource_id,
                                              environment=environment)
        print(f"deployment/{deployment.name.rsplit('/', 1)[-1]} deploying")
        deployments.append(deployment.name)
    return deployments


def label_filter(selector: str) -> str:
    """`-l team=payments,tier!=gold,env` -> an AIP-160 filter."""
    clauses = []
    for part in filter(None, (p.strip() for p in selector.split(","))):
        if "!=" in part:
            key, value = part.split("!=", 1)
            clauses.append(f'labels.{key.strip()} != "{value.strip()}"')
        elif "=" in part:
            key, value = part.split("=", 1)
            clauses.append(f'labels.{key.strip().rstrip("=")} = "{value.strip()}"')
        else:
            clauses.append(f"labels.{part}:*")
    return " AND ".join(clauses)


def run_get(options: argparse.Namespace) -> int:
    context = context_for(options)
    project = project_for(options, context)
    resource_type = resource_type_for(options.kind)
    with client_for(context) as client:
        if options.name:
            name = full_name(resource_type, options.name, project)
            item = operations.get(client, resource_type, name)  # NOT_FOUND (exit 3) before watching
            if options.watch:
                watch(client, resource_type, project, f'name = "{name}"', options.output)
            else:
                print_resources([item], options.output, single=True)
            return ExitCode.OK
        filter_text = label_filter(options.selector) if options.selector else ""
        if options.watch:
            watch(client, resource_type, project, filter_text, options.output)
            return ExitCode.OK
        parent = parent_for(resource_type, project)
        items = list(operations.list_all(client, resource_type, parent, filter_text))
        print_resources(items, options.output)
    return ExitCode.OK


def watch(client: Client, resource_type: ResourceType, project: str, filter_text: str, output: str) -> None:
    """Prints the matches, then every change until interrupted (the watch survives restarts)."""
    method = resource_type.watch
    if method is None:
        raise CommandError(f"{resource_type.plural} cannot be watched", ExitCode.USAGE)
    parent = parent_for(resource_type, project)

    def stream(resource_version: str) -> Iterator[Any]:
        request = method.request_type(filter=filter_text, resource_version=resource_version)
        if "parent" in request.DESCRIPTOR.fields_by_name:
            request.parent = parent  # type: ignore[attr-defined]
        responses: Iterator[Any] = method.bind(client)(request=request)
        return responses

    Follower(resource_type, output, stream).run()


def run_describe(options: argparse.Namespace) -> int:
    context = context_for(options)
    resource_type = resource_type_for(options.kind)
    name = full_name(resource_type, options.name, project_for(options, context))
    with client_for(context) as client:
        item = operations.get(client, resource_type, name)
        data = to_friendly_dict(item)
        print(f"Name:        {item.name}")  # type: ignore[attr-defined]
        print(f"Kind:        {resource_type.kind or resource_type.singular}")
        if state_text(item):
            print(f"State:       {state_text(item)}")
        for key in ("uid", "generation", "createTime", "updateTime", "deleteTime", "labels", "annotations"):
            if key in data:
                print(f"{key[0].upper() + key[1:] + ':':<13}{data[key]}")
        for section in ("spec", "status"):
            if data.get(section):
                print(f"{section.capitalize()}:")
                print(_indent(yaml.safe_dump(data[section], sort_keys=False)))
        conditions = getattr(item, "conditions", [])
        if conditions:
            print("Conditions:")
            print(f"  {'TYPE':<20} {'STATUS':<8} {'REASON':<24} MESSAGE")
            for condition in conditions:
                status = {1: "True", 2: "False"}.get(condition.status, "Unknown")
                print(f"  {condition.type:<20} {status:<8} {condition.reason:<24} {condition.message}")
        print("Events:")
        print_events(list_events(client, resource_type, name))
    return ExitCode.OK


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.rstrip().splitlines())


def run_delete(options: argparse.Namespace) -> int:
    context = context_for(options)
    project = project_for(options, context)
    targets: list[tuple[ResourceType, str]] = []
    if not options.filename and not (options.kind and options.name):
        raise CommandError("give KIND NAME or -f FILE", ExitCode.USAGE)
    if options.kind and options.name and not options.filename:
        resource_type = resource_type_for(options.kind)
        targets.append((resource_type, full_name(resource_type, options.name, project)))
    with client_for(context) as client:
        if options.filename:
            loaded = manifests.load(options.filename, sys.stdin, project, options.project or "")
            for manifest in loaded:
                # A file that no longer converts is deleted by name all the same, in file order.
                with contextlib.suppress(ApiError):
                    desired_message(client, manifest)
            ordered = dependencies_first(loaded)
            dependents_first = iter(reversed([m for m in ordered if _application_name(m) is not None]))
            for manifest in ordered:
                if _application_name(manifest) is not None:
                    manifest = next(dependents_first)
                assert manifest.resource_type is not None
                targets.append((manifest.resource_type, manifest.name))
        for resource_type, name in targets:
            operations.delete(
                client, resource_type, name, force=options.force, allow_missing=options.ignore_not_found)
            print(f"{resource_type.singular}/{name.rsplit('/', 1)[-1]} deleted")
        if options.wait:
            deadline = time.monotonic() + parse_duration(options.timeout)
            for resource_type, name in targets:
                with progress(f"waiting for {name} to be gone"):
                    while live_or_none(client, resource_type, name) is not None:
                        if time.monotonic() > deadline:
                            raise CommandError(f"{name} still exists after --timeout {options.timeout}",
                                               ExitCode.TIMED_OUT)
                        time.sleep(0.5)
    return ExitCode.OK


def run_diff(options: argparse.Namespace) -> int:
    """Exit 0: no differences; 1: differences (printed as a unified diff), like `kubectl diff`."""
    context = context_for(options)
    loaded = manifests.load(options.filename, sys.stdin, project_for(options, context), options.project or "")
    different = False
    with client_for(context) as client:
        for manifest in loaded:
            assert manifest.resource_type is not None
            desired = comparable(desired_message(client, manifest))
            live_message = live_or_none(client, manifest.resource_type, manifest.name)
            live = comparable(live_message) if live_message is not None else {}
            before = yaml.safe_dump(live, sort_keys=True).splitlines(keepends=True) if live else []
            after = yaml.safe_dump(desired, sort_keys=True).splitlines(keepends=True)
            lines = list(difflib.unified_diff(
                before, after, f"live/{manifest.name}", f"manifest/{manifest.name}"))
            if lines:
                different = True
                sys.stdout.writelines(lines)
    return ExitCode.ERROR if different else ExitCode.OK


def add_wait_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true", help="wait until the change is done")
    parser.add_argument("--timeout", default="5m", help="how long --wait waits (default 5m)")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    apply = commands.add_parser(
        "apply", help="create or update resources from manifests",
        description="Create or update resources from manifests (files, folders, or - for stdin). "
        "Prints created/configured/unchanged per object. Nothing is sent if any manifest is invalid.",
    )
    apply.add_argument("-f", "--filename", action="append", required=True, help="file, folder or -")
    apply.add_argument("--dry-run", action="store_true", help="validate on the server, change nothing")
    apply.add_argument("--env", help="also deploy every application applied to this environment "
                       "(a folder of Score files deploys as one system)")
    add_wait_flags(apply)
    add_context_flags(apply)
    apply.set_defaults(run=run_apply)

    get = commands.add_parser("get", help="list resources or show one",
                              description="List resources of a kind, or show one. KIND may be singular, "
                              "plural or short (app, apps, application, applications).")
    get.add_argument("kind")
    get.add_argument("name", nargs="?")
    get.add_argument("-o", "--output", choices=FORMATS, default="table")
    get.add_argument("-l", "--selector", help="label selector, e.g. team=payments,tier!=gold")
    get.add_argument("-w", "--watch", action="store_true", help="keep printing changes")
    add_context_flags(get)
    get.set_defaults(run=run_get)

    describe = commands.add_parser("describe", help="show a resource's spec, status, conditions and events")
    describe.add_argument("kind")
    describe.add_argument("name")
    add_context_flags(describe)
    describe.set_defaults(run=run_describe)

    delete = commands.add_parser("delete", help="delete resources by name or by manifest")
    delete.add_argument("kind", nargs="?")
    delete.add_argument("name", nargs="?")
    delete.add_argument("-f", "--filename", action="append", help="delete what these manifests define")
    delete.add_argument("--force", action="store_true", help="delete even if other resources use it")
    delete.add_argument("--ignore-not-found", action="store_true", help="succeed if it does not exist")
    add_wait_flags(delete)
    add_context_flags(delete)
    delete.set_defaults(run=run_delete)

    diff = commands.add_parser("diff", help="show how manifests differ from what is stored",
                               description="Show how manifests differ from what is stored. Exit 0 when "
                               "there are no differences, 1 when there are.")
    diff.add_argument("-f", "--filename", action="append", required=True)
    add_context_flags(diff)
    diff.set_defaults(run=run_diff)
