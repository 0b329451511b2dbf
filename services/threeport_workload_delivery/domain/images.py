"""Which image each component runs, derived afresh at every reconcile (DESIGN §4: events are hints).

In order of precedence, per component:

1. a **pin**: an image the user wrote into ``spec.images`` always runs;
2. the newest **build** matching the environment's auto-deploy rules (the registry records the
   matching environments on each build), unless a promotion or rollback came after it;
3. the image a **promotion** or **rollback** recorded (annotation ``delivery.threeport.io/images``)
   — it stays until a build newer than it arrives;
4. the application's own ``image``.

Nothing here writes into the deployment's spec, so re-applying an unchanged Deployment manifest
changes nothing that runs, and a lost build event costs latency, never a rollout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from google.protobuf import json_format

from threeport.delivery.v1alpha1 import deployment_pb2, release_pb2
from threeport.registry.v1alpha1 import application_pb2, build_pb2

IMAGES = "delivery.threeport.io/images"

Origin: TypeAlias = deployment_pb2.ImageOrigin.ValueType
APPLICATION = deployment_pb2.IMAGE_ORIGIN_APPLICATION
BUILD = deployment_pb2.IMAGE_ORIGIN_BUILD
PIN = deployment_pb2.IMAGE_ORIGIN_PIN
PROMOTION = deployment_pb2.IMAGE_ORIGIN_PROMOTION
ROLLBACK = deployment_pb2.IMAGE_ORIGIN_ROLLBACK


@dataclass(frozen=True)
class ImageRecord:
    """Images a promotion or rollback put in place, and when (comparable with build ids)."""

    origin: Origin
    since: str
    message: str
    images: Mapping[str, release_pb2.ImageRef] = field(default_factory=dict)


def moment(when: datetime) -> str:
    """A time in the form build ids start with (``b20261125t043512123456``), so that "is this
    build newer than that promotion" is a string comparison."""
    return f"b{when:%Y%m%dt%H%M%S%f}"


def build_id(build: str) -> str:
    return build.rsplit("/", 1)[-1]


def write_record(annotations: MutableMapping[str, str], record: ImageRecord) -> None:
    annotations[IMAGES] = json.dumps({
        "origin": deployment_pb2.ImageOrigin.Name(record.origin),
        "since": record.since,
        "message": record.message,
        "images": {c: json_format.MessageToDict(ref) for c, ref in sorted(record.images.items())},
    }, sort_keys=True)


def read_record(annotations: Mapping[str, str]) -> ImageRecord | None:
    raw = annotations.get(IMAGES, "")
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return ImageRecord(
            origin=deployment_pb2.ImageOrigin.Value(data["origin"]), since=str(data["since"]),
            message=str(data.get("message", "")),
            images={c: json_format.ParseDict(ref, release_pb2.ImageRef()) for c, ref in data["images"].items()},
        )
    except (KeyError, TypeError, ValueError, json_format.ParseError):
        return None


def build_message(build: build_pb2.Build) -> str:
    parts = build.name.split("/")
    where = f"branch {build.spec.branch}" if build.spec.branch else f"tag {build.spec.tag}" if build.spec.tag else ""
    commit = f" ({build.spec.commit[:12]})" if build.spec.commit else ""
    return f"build {build_id(build.name)} of {parts[3]}/{build.spec.component}" + (f" on {where}" if where else "") \
        + commit


def derive(
    spec: application_pb2.ApplicationSpec,
    pins: Mapping[str, release_pb2.ImageRef],
    builds: Mapping[str, build_pb2.Build],
    record: ImageRecord | None,
) -> dict[str, deployment_pb2.ImageSource]:
    """Per component of ``spec``: the image it runs and why."""
    derived: dict[str, deployment_pb2.ImageSource] = {}
    for component, definition in sorted(spec.components.items()):
        derived[component] = _one(component, definition.image, pins, builds, record)
    return derived


def _one(
    component: str, own_image: str, pins: Mapping[str, release_pb2.ImageRef],
    builds: Mapping[str, build_pb2.Build], record: ImageRecord | None,
) -> deployment_pb2.ImageSource:
    pin = pins.get(component)
    if pin is not None and pin.image:
        return deployment_pb2.ImageSource(image=pin, origin=PIN, message="pinned in spec.images")
    build = builds.get(component)
    recorded = record.images.get(component) if record is not None else None
    if build is not None and (record is None or recorded is None or build_id(build.name) > record.since):
        ref = release_pb2.ImageRef(image=build.spec.image, digest=build.spec.digest, build=build.name)
        return deployment_pb2.ImageSource(image=ref, origin=BUILD, message=build_message(build))
    if record is not None and recorded is not None:
        return deployment_pb2.ImageSource(image=recorded, origin=record.origin, message=record.message)
    return deployment_pb2.ImageSource(image=release_pb2.ImageRef(image=own_image), origin=APPLICATION,
                                      message="the application's image")


def images_of(sources: Mapping[str, deployment_pb2.ImageSource]) -> dict[str, release_pb2.ImageRef]:
    return {component: source.image for component, source in sources.items()}


def new_builds(
    previous: Mapping[str, release_pb2.ImageRef], sources: Mapping[str, deployment_pb2.ImageSource]
) -> list[deployment_pb2.ImageSource]:
    """The builds that change what runs compared with the previous release (why a release is made)."""
    return [source for component, source in sorted(sources.items())
            if source.origin == BUILD and previous.get(component, release_pb2.ImageRef()) != source.image]
