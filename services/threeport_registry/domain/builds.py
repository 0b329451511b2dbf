"""Validation of Builds reported by CI, against the application they belong to."""

from __future__ import annotations

from urllib.parse import urlsplit

from threeport.registry.v1alpha1 import application_pb2, build_pb2
from threeport_registry.domain import field_paths as fp
from threeport_registry.domain import git_refs
from threeport_registry.domain.images import ImageReferenceError, check_digest, parse_image_reference
from threeport_registry.domain.metadata import validate_metadata
from threeport_runtime.errors import FieldViolation

MAX_URL_LENGTH = 2048


def validate_build(
    build: build_pb2.Build, application: application_pb2.Application, *, path: str = "build"
) -> list[FieldViolation]:
    """Every violation in a reported build of ``application``."""
    violations = fp.Violations()
    validate_metadata(build.labels, build.annotations, path, violations)
    spec, at = build.spec, fp.child(path, "spec")
    if spec.component not in application.spec.components:
        known = ", ".join(sorted(application.spec.components)) or "none"
        shown = (
            f"{spec.component!r} is not a component of the application" if spec.component else "is required"
        )
        violations.add(fp.child(at, "component"), f"{shown}; components: {known}")
    try:
        image = parse_image_reference(spec.image)
    except ImageReferenceError as bad_image:
        violations.add(fp.child(at, "image"), str(bad_image))
    else:
        if spec.digest and image.digest and image.digest != spec.digest:
            violations.add(
                fp.child(at, "digest"), f"differs from the digest in the image reference ({image.digest})"
            )
    if spec.digest and (error := check_digest(spec.digest)):
        violations.add(fp.child(at, "digest"), error)
    if spec.branch and (error := git_refs.check_ref(spec.branch, "branch")):
        violations.add(fp.child(at, "branch"), error)
    if spec.tag and (error := git_refs.check_ref(spec.tag, "tag")):
        violations.add(fp.child(at, "tag"), error)
    if spec.commit and (error := git_refs.check_commit(spec.commit)):
        violations.add(fp.child(at, "commit"), error)
    if spec.url and (error := _check_url(spec.url)):
        violations.add(fp.child(at, "url"), error)
    return violations.as_list()


def _check_url(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL_LENGTH or " " in url:
        return f"{url!r} is not a link: use an http:// or https:// URL to the CI run"
    return None
