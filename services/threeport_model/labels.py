"""The labels Threeport puts on the Kubernetes objects it applies for a deployment (DESIGN §5).

Workload-delivery writes them; the cluster-manager's probe reads them to tell the pods of
deployments apart from a tenant's. One definition, so the two never drift.
"""

from __future__ import annotations

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
PROJECT_LABEL = "threeport.io/project"
DEPLOYMENT_LABEL = "threeport.io/deployment"
