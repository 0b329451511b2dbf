"""Names and labels: deployment names, claim ids, Kubernetes object names and Threeport labels."""

from __future__ import annotations

import hashlib

from threeport_model.labels import DEPLOYMENT_LABEL as DEPLOYMENT_LABEL
from threeport_model.labels import MANAGED_BY_LABEL
from threeport_model.labels import PROJECT_LABEL as PROJECT_LABEL

MANAGED_BY = MANAGED_BY_LABEL
APPLICATION_LABEL = "threeport.io/application"
ENVIRONMENT_LABEL = "threeport.io/environment"
COMPONENT_LABEL = "threeport.io/component"
CONFIG_HASH_ANNOTATION = "threeport.io/config-hash"
FINALIZER = "delivery.threeport.io/deployment"


def project_of(name: str) -> str:
    """``acme`` from ``projects/acme/...``."""
    return name.split("/")[1]


def last_segment(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def deployment_id(application: str, environment: str) -> str:
    return f"{application}-{environment}"


def deployment_name(project: str, application: str, environment: str) -> str:
    return f"projects/{project}/deployments/{deployment_id(application, environment)}"


def claim_id(deployment: str, deployment_uid: str, dependency: str = "") -> str:
    """A DNS label unique per deployment incarnation and dependency (claims are global).

    Derived, not random, so that a crash between creating a claim and recording it cannot
    create a second one: the retry finds the first by name.
    """
    digest = hashlib.sha256(f"{deployment}\x00{deployment_uid}\x00{dependency}".encode()).hexdigest()[:12]
    stem = last_segment(deployment)[:30].rstrip("-")
    suffix = f"-{dependency[:12].rstrip('-')}" if dependency else ""
    return f"{stem}{suffix}-{digest}"


def object_name(application: str, component: str, suffix: str = "") -> str:
    """``<app>-<component>[-suffix]``, at most 63 characters (a hash keeps long ones unique)."""
    base = f"{application}-{component}"
    name = f"{base}-{suffix}" if suffix else base
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:54].rstrip('-')}-{digest}"


def threeport_labels(project: str, deployment: str) -> dict[str, str]:
    """The labels on every object Threeport applies for a deployment (DESIGN §5)."""
    return {MANAGED_BY: "threeport", PROJECT_LABEL: project, DEPLOYMENT_LABEL: last_segment(deployment)}


def selector_for(project: str, deployment: str) -> str:
    return f"{MANAGED_BY}=threeport,{PROJECT_LABEL}={project},{DEPLOYMENT_LABEL}={last_segment(deployment)}"
