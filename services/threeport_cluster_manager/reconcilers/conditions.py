"""Condition types and reasons the cluster-manager writes, in one place."""

from __future__ import annotations

READY = "Ready"
REACHABLE = "Reachable"
PROVISIONED = "Provisioned"
ONBOARDED = "Onboarded"
IN_USE = "InUse"

CLUSTER_FINALIZER = "clusters.threeport.io/teardown"
CLAIM_FINALIZER = "clusters.threeport.io/claim"
