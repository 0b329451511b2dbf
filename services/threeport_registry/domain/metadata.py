"""Validation of the labels and annotations every resource carries (Kubernetes syntax)."""

from __future__ import annotations

from collections.abc import Mapping

from threeport_model import names
from threeport_registry.domain import field_paths as fp

# Kubernetes' limit on all annotations of an object together.
MAX_ANNOTATIONS_BYTES = 256 * 1024


def validate_labels(labels: Mapping[str, str], path: str, violations: fp.Violations) -> None:
    """Label keys and values (also used for cluster label selectors)."""
    for label_key, value in labels.items():
        at = fp.key(path, label_key)
        if error := names.check_label_key(label_key):
            violations.add(at, error)
        if error := names.check_label_value(value):
            violations.add(at, error)


def validate_metadata(
    labels: Mapping[str, str], annotations: Mapping[str, str], path: str, violations: fp.Violations
) -> None:
    """``labels`` and ``annotations`` of the resource at ``path``; annotation values are free text."""
    validate_labels(labels, fp.child(path, "labels"), violations)
    size = 0
    for annotation_key, value in annotations.items():
        size += len(annotation_key.encode()) + len(value.encode())
        if error := names.check_label_key(annotation_key):
            violations.add(fp.key(fp.child(path, "annotations"), annotation_key), error)
    if size > MAX_ANNOTATIONS_BYTES:
        violations.add(
            fp.child(path, "annotations"),
            f"annotations total {size} bytes; at most {MAX_ANNOTATIONS_BYTES} allowed",
        )
