"""The claims a deployment should hold for its addon and managed-service dependencies (pure).

One claim per dependency that an addon-manager (AddonClaim) or infra-provider (ServiceClaim)
provides; ``application`` dependencies are resolved from the other deployment, not claimed.
Names are derived from the deployment's name, uid and the dependency name, so a crash between
creating a claim and recording it never makes a second one. Whether a live claim still says
what is wanted (``differs``) compares only the fields this module declares, so provider defaults
do not count as drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

from threeport.addons.v1alpha1 import addon_claim_pb2
from threeport.infra.v1alpha1 import service_claim_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport_model.dependency_types import Provider, provider_of
from threeport_workload_delivery.domain import external_secrets, names
from threeport_workload_delivery.domain.external_secrets import is_synced

COLLECTIONS: dict[Provider, str] = {"addons": "addonClaims", "infra": "serviceClaims"}
ClaimSpec = addon_claim_pb2.AddonClaimSpec | service_claim_pb2.ServiceClaimSpec
# What a claim update carries: the dependency's class and parameters, where it is placed, and
# the implementation the registry resolved. Owner, type and project never change for a name.
UPDATABLE = frozenset({"class", "params", "parameters", "cluster", "namespace", "implementation", "environment",
                       "default_host"})
# What places a ClusterClaim; the cluster-manager never moves a bound claim.
PLACEMENT = frozenset({"cluster", "requirements", "profile", "allow_on_demand"})


@dataclass(frozen=True)
class DesiredClaim:
    provider: Provider
    name: str  # e.g. serviceClaims/<id>
    dependency: str
    type: str
    spec: ClaimSpec


def claim_name(provider: Provider, deployment: str, deployment_uid: str, dependency: str) -> str:
    return f"{COLLECTIONS[provider]}/{names.claim_id(deployment, deployment_uid, dependency)}"


def is_claim(name: str) -> bool:
    return name.split("/", 1)[0] in COLLECTIONS.values()


def desired_claims(
    *, deployment: str, deployment_uid: str, spec: application_pb2.ApplicationSpec, environment: str,
    cluster: str, namespace: str, implementations: Mapping[str, str], default_host: str = "", application: str = "",
) -> list[DesiredClaim]:
    """Per addon or managed-service dependency of ``spec``, the claim that provides it. Addon
    claims carry ``default_host`` (``ingress.default_host``) for addons that publish a host. A
    secret synced by external-secrets is a claim of the ``secrets`` cluster service instead of
    a managed secret (``external_secrets``)."""
    project = f"projects/{names.project_of(deployment)}"
    wanted: list[DesiredClaim] = []
    for dependency, dep in sorted(spec.dependencies.items()):
        provider = provider_of(dep.type)
        if provider == "application":
            continue
        klass = getattr(dep, "class")
        params = dep.params if dep.HasField("params") else struct_pb2.Struct()
        claim_type = dep.type
        if is_synced(dep.type, implementations.get(dependency, "")):
            provider, claim_type = "addons", external_secrets.CLAIM_TYPE
            params = external_secrets.claim_params(
                dep, project=names.project_of(deployment), environment=names.last_segment(environment),
                application=application, dependency=dependency)
        claim_spec: ClaimSpec
        if provider == "addons":
            claim_spec = addon_claim_pb2.AddonClaimSpec(
                owner=deployment, type=claim_type, cluster=cluster, params=params, project=project,
                environment=environment, default_host=default_host, **{"class": klass})
        else:
            claim_spec = service_claim_pb2.ServiceClaimSpec(
                owner=deployment, dependency=dependency, type=dep.type,
                implementation=implementations.get(dependency, ""), parameters=params, cluster=cluster,
                namespace=namespace, **{"class": klass})
        wanted.append(DesiredClaim(provider, claim_name(provider, deployment, deployment_uid, dependency),
                                   dependency, claim_type, claim_spec))
    return wanted


def differs(wanted: Message, live: Message, fields: frozenset[str] = UPDATABLE) -> list[str]:
    """The spec ``fields`` (by default class, params, placement, ...) where ``live`` no longer
    says ``wanted``."""
    wanted_doc = json_format.MessageToDict(wanted, preserving_proto_field_name=True)
    live_doc = json_format.MessageToDict(live, preserving_proto_field_name=True)
    changed: list[str] = []
    for field in sorted(fields & set(wanted.DESCRIPTOR.fields_by_name)):
        # A field left empty in the wanted spec (e.g. params removed) is a change as well.
        if wanted_doc.get(field) != live_doc.get(field):
            changed.append(field)
    return changed
