"""The registry's domain rules: pure functions over the registry protos, no I/O.

Modules, each with one job:

- ``field_paths``: how violations name fields (``application.spec.components[api].ports[0].port``).
- ``names``, ``quantities``, ``images``, ``locations``: syntax of identifiers, Kubernetes
  quantities, image references and ``Continent:City`` locations.
- ``dependency_types``: the catalogue of dependency types and their (secret) outputs.
- ``references``: ``${dependencies.NAME.OUTPUT}`` references in env values and config files.
- ``metadata``: labels and annotations.
- ``dependencies``, ``application``: Application validation.
- ``environment``, ``namespaces``: Environment validation and namespace templates.
- ``profiles``: ClusterProfile, ServiceClass and AddonProfile validation.
- ``defaults``: the built-in (system default) profiles.
- ``resolution``: which ServiceClass provides a dependency in an environment.
- ``builds``: Build validation.
- ``auto_deploy``: which builds an environment's auto-deploy rules select.
- ``score``: Score files (``score.dev/v1b1``) converted into Applications.
- ``normalise``: filling in defaults before specs are stored.
"""
