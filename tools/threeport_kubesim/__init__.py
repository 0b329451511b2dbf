"""threeport_kubesim: a Kubernetes API emulator for development, tests and the `sim` cluster provider.

One process hosts many simulated clusters. Each cluster serves the Kubernetes REST API on its own
port (optionally TLS with its own CA, always with its own bearer token) and runs simulated
controllers so Deployments roll out, Pods run and Services get addresses. A separate control API
creates and deletes clusters and injects faults. Production code must never import this package.
"""

__version__ = "0.1.0"
