"""The shared vocabulary of Threeport: pure rules every service, the CLI and the tests agree on.

It imports only the standard library and the generated messages (``gen/``), and does no I/O, so
any service may import it (an import contract in ``tests/contracts`` enforces both). Vocabulary
that two services need lives here once, never in copies kept in step.

Modules, each with one job:

- ``names``: identifiers: DNS labels, ids, DNS names, port and env var names, Kubernetes label
  keys and values, resource names such as ``clusters/{id}``.
- ``locations``: ``Continent:City`` locations and the AWS region of each.
- ``quantities``: Kubernetes resource quantities (``250m``, ``256Mi``), parsed exactly.
- ``dependency_types``: the catalogue of dependency types, their outputs (which are secret) and
  which service provides each.
- ``references``: ``${dependencies.NAME.OUTPUT}`` references: find, check and substitute.
- ``namespaces``: namespace templates (``{project}-{application}-{environment}``).
- ``auto_deploy``: which builds an environment's auto-deploy rules select.
- ``labels``: the labels on every Kubernetes object of a deployment (managed-by, project,
  deployment).
"""
