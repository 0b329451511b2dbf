"""Container image references: ``[registry[:port]/]path[:tag][@sha256:<64 hex>]``.

The grammar follows the OCI distribution reference rules:

- the first ``/``-separated part is a registry when it contains ``.`` or ``:`` or is ``localhost``
  (so ``nginx`` and ``library/nginx`` are Docker Hub paths);
- path components are lowercase letters and digits, separated by ``.``, ``_``, ``__`` or runs of
  ``-``;
- a tag is up to 128 of ``[A-Za-z0-9_.-]`` not starting with ``.`` or ``-``;
- a digest is ``sha256:`` and 64 lowercase hex digits (the only algorithm accepted);
- the name (registry and path) is at most 255 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_REGISTRY_HOST = re.compile(
    r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*"
    r"|\[[0-9A-Fa-f:.]+\]"
)
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
MAX_NAME_LENGTH = 255

IMAGE_RULE = (
    "[registry[:port]/]path[:tag][@sha256:<64 hex digits>], e.g. registry.example.com/ledger/api:1.0.0"
)
DIGEST_RULE = "sha256: followed by 64 lowercase hex digits"


class ImageReferenceError(ValueError):
    """The text is not an image reference."""


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference; ``registry`` is empty for Docker Hub shorthand."""

    registry: str
    path: str
    tag: str
    digest: str

    @property
    def repository(self) -> str:
        """The name without tag or digest, e.g. ``registry.example.com/ledger/api``."""
        return f"{self.registry}/{self.path}" if self.registry else self.path

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def check_digest(text: str) -> str | None:
    if not _DIGEST.fullmatch(text):
        return f"{text!r} is not a digest: use {DIGEST_RULE}"
    return None


def parse_image_reference(text: str) -> ImageReference:
    """Parses an image reference; raises ImageReferenceError saying what is wrong."""
    if not text:
        raise ImageReferenceError(f"is required: {IMAGE_RULE}")
    if text != text.strip() or any(c.isspace() for c in text):
        raise ImageReferenceError(f"{text!r} contains whitespace; use {IMAGE_RULE}")
    rest, at, digest = text.partition("@")
    if at and (error := check_digest(digest)):
        raise ImageReferenceError(f"{text!r}: {error}")
    # A ':' after the last '/' starts the tag; one before it belongs to the registry's port.
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    tag = ""
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ImageReferenceError(
                f"{text!r} has an invalid tag {tag!r}: at most 128 letters, digits, '_', '.' and '-', "
                "not starting with '.' or '-'"
            )
    registry, path = _split_registry(rest)
    if registry:
        host, _, port = registry.partition(":") if not registry.startswith("[") else _split_ipv6(registry)
        if not _REGISTRY_HOST.fullmatch(host) or (port and not (port.isdigit() and 0 < int(port) < 65536)):
            raise ImageReferenceError(f"{text!r} has an invalid registry {registry!r}: use host[:port]")
    if not path:
        raise ImageReferenceError(f"{text!r} has no repository path; use {IMAGE_RULE}")
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            raise ImageReferenceError(
                f"{text!r} has an invalid path component {component!r}: use lowercase letters and digits "
                "separated by '.', '_', '__' or '-'"
            )
    if len(rest) > MAX_NAME_LENGTH:
        raise ImageReferenceError(
            f"{text!r} is too long: the name may have at most {MAX_NAME_LENGTH} characters"
        )
    return ImageReference(registry, path, tag, digest)


def check_image_reference(text: str) -> str | None:
    try:
        parse_image_reference(text)
    except ImageReferenceError as error:
        return str(error)
    return None


def _split_registry(name: str) -> tuple[str, str]:
    first, slash, remainder = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        return first, remainder
    return "", name


def _split_ipv6(registry: str) -> tuple[str, str, str]:
    host, _, after = registry.partition("]")
    return host + "]", ":", after.removeprefix(":")
