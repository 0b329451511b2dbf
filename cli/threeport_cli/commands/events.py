"""``events``: what happened, to which object, in a project or to one resource (``--for``).

Events come from the ListEvents of the services that record them (the registry and
workload-delivery for a project; the resource's own service for ``--for``). ``-w`` asks again
every two seconds and prints what is new or happened again (there is no event stream to follow).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import yaml

from threeport.sdk import Client, resources
from threeport.sdk._index import ResourceType
from threeport_cli.errors import CommandError
from threeport_cli.exit_codes import ExitCode
from threeport_cli.printers import age_text, render_table
from threeport_cli.protojson import to_friendly_dict
from threeport_cli.session import add_context_flags, client_for, context_for, project_for

PROJECT_EVENT_SOURCES = ("registry_event", "delivery_event")
POLL_SECONDS = 2.0
HEADER = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]


def events_client_attribute(resource_type: ResourceType) -> str:
    domain = resource_type.message_type.DESCRIPTOR.full_name.split(".")[1]
    return f"{domain}_event"


def list_events(client: Client, resource_type: ResourceType, name: str) -> list[Any]:
    """The events of ``name`` and of the resources below it, oldest first."""
    events_client = getattr(client, events_client_attribute(resource_type), None)
    if events_client is None:
        return []
    return sorted(events_client.list_events(parent=name), key=_last_seen)


def list_project_events(client: Client, project: str) -> list[Any]:
    found: list[Any] = []
    for attribute in PROJECT_EVENT_SOURCES:
        found.extend(getattr(client, attribute).list_events(parent=f"projects/{project}"))
    return sorted(found, key=_last_seen)


def print_events(events: list[Any]) -> None:
    """The events section of ``describe``: one resource, so no object column."""
    if not events:
        print("  <none>")
        return
    for event in events:
        when = event.last_time.ToDatetime().strftime("%Y-%m-%d %H:%M:%S") if event.last_time.seconds else ""
        count = f" (x{event.count})" if event.count > 1 else ""
        print(f"  {when}  {_type_text(event):<7}  {event.reason:<22} {event.message}{count}")


def object_text(resource: str) -> str:
    """``projects/acme/deployments/shop-dev`` -> ``deployment/shop-dev`` (kind/id, as kubectl)."""
    try:
        kind = resources.for_name(resource).singular
    except LookupError:
        return resource
    return f"{kind}/{resource.rsplit('/', 1)[-1]}"


def event_row(event: Any) -> list[str]:
    count = f" (x{event.count})" if event.count > 1 else ""
    return [_age(event), _type_text(event), event.reason, object_text(event.resource), f"{event.message}{count}"]


def print_event_list(events: list[Any], output: str) -> None:
    if output == "json":
        print(json.dumps([to_friendly_dict(e) for e in events], indent=2))
    elif output == "yaml":
        print(yaml.safe_dump_all([to_friendly_dict(e) for e in events], sort_keys=False).rstrip())
    elif not events:
        print("No events found.", file=sys.stderr)
    else:
        print(render_table([HEADER, *(event_row(e) for e in events)]))


def follow(fetch: Callable[[], list[Any]], seen: list[Any], output: str,
           sleep: Callable[[float], None] = time.sleep) -> None:
    """Prints events that are new, or happened again, since ``seen``; until interrupted."""
    known = {e.name: (e.count, _last_seen(e)) for e in seen}
    while True:
        sleep(POLL_SECONDS)
        for event in fetch():
            version = (event.count, _last_seen(event))
            if known.get(event.name) == version:
                continue
            known[event.name] = version
            if output == "json":
                print(json.dumps(to_friendly_dict(event)))  # one object per line while following
            elif output == "yaml":
                print("---\n" + yaml.safe_dump(to_friendly_dict(event), sort_keys=False).rstrip())
            else:
                print(render_table([event_row(event)]))
            sys.stdout.flush()


def target_of(options: argparse.Namespace) -> tuple[str, str] | None:
    """KIND and NAME from ``--for KIND/NAME`` or the two positional words."""
    if options.for_object:
        if options.kind:
            raise CommandError("give --for KIND/NAME or KIND NAME, not both", ExitCode.USAGE)
        kind, _, name = options.for_object.partition("/")
        if not kind or not name:
            raise CommandError(f"--for {options.for_object!r}: use KIND/NAME, e.g. deployment/shop-dev",
                               ExitCode.USAGE)
        return kind, name
    if options.kind:
        if not options.name:
            raise CommandError("give KIND and NAME, or neither for the whole project", ExitCode.USAGE)
        return options.kind, options.name
    return None


def run_events(options: argparse.Namespace) -> int:
    from threeport_cli.commands.resources import full_name, resource_type_for

    context = context_for(options)
    project = project_for(options, context)
    target = target_of(options)
    with client_for(context) as client:
        fetch: Callable[[], list[Any]]
        if target is not None:
            resource_type = resource_type_for(target[0])
            name = full_name(resource_type, target[1], project)
            fetch = lambda: list_events(client, resource_type, name)  # noqa: E731
        else:
            if not project:
                raise CommandError("no project: pass --project or set one in the context", ExitCode.USAGE)
            fetch = lambda: list_project_events(client, project)  # noqa: E731
        events = fetch()
        print_event_list(events, options.output)
        sys.stdout.flush()
        if options.watch:
            follow(fetch, events, options.output)
    return ExitCode.OK


def _last_seen(event: Any) -> tuple[int, int]:
    return event.last_time.seconds, event.last_time.nanos


def _type_text(event: Any) -> str:
    return "Warning" if event.type == 2 else "Normal"


def _age(event: Any) -> str:
    return age_text(event, field="last_time")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    events = commands.add_parser(
        "events", help="show events of a resource or of the project",
        description="Show what happened, oldest first: LAST SEEN, TYPE, REASON, OBJECT (kind/name) and "
        "MESSAGE. Without KIND NAME or --for: every event of the project. -w keeps printing new ones.")
    events.add_argument("kind", nargs="?", help="the kind of the resource (or use --for)")
    events.add_argument("name", nargs="?")
    events.add_argument("--for", dest="for_object", metavar="KIND/NAME",
                        help="only this resource and those below it, e.g. deployment/shop-dev")
    events.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")
    events.add_argument("-w", "--watch", action="store_true", help="keep printing new events")
    add_context_flags(events)
    events.set_defaults(run=run_events)
