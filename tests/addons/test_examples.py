"""The addon samples (deploy/examples/addons) parse as `tptctl apply` parses them and pass the
checks their owners make (registry, addon-manager), so the docs' commands do what they say."""

from __future__ import annotations

import io
from pathlib import Path

from threeport.addons.v1alpha1 import addon_installation_pb2, addon_pb2
from threeport.registry.v1alpha1 import (
    addon_profile_pb2,
    application_pb2,
    environment_pb2,
    service_class_pb2,
)
from threeport_addon_manager.api.validation import check_addon, check_installation
from threeport_cli.manifests import parse_document, read_documents
from threeport_registry.domain.application import validate_application
from threeport_registry.domain.environment import validate_environment
from threeport_registry.domain.profiles import validate_addon_profile, validate_service_class

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "addons"


def test_every_addon_sample_is_valid() -> None:
    seen: set[str] = set()
    for document in read_documents([str(EXAMPLES)], io.StringIO()):
        message = parse_document(document, "acme").message
        seen.add(type(message).__name__)
        if isinstance(message, application_pb2.Application):
            assert validate_application(message) == []
        elif isinstance(message, environment_pb2.Environment):
            assert validate_environment(message) == []
        elif isinstance(message, service_class_pb2.ServiceClass):
            assert validate_service_class(message) == []
        elif isinstance(message, addon_profile_pb2.AddonProfile):
            assert validate_addon_profile(message) == []
        elif isinstance(message, addon_pb2.Addon):
            check_addon(message)
        elif isinstance(message, addon_installation_pb2.AddonInstallation):
            check_installation(message)
    assert {"Application", "Environment", "ServiceClass", "AddonProfile", "Addon", "AddonInstallation"} <= seen
