"""The registry's domain rules: pure functions over the registry protos, no I/O.

Names, quantities, locations, dependency types, references, namespace templates and auto-deploy
rules are shared vocabulary: they live in ``threeport_model``.

Modules, each with one job:

- ``field_paths``: how violations name fields (``application.spec.components[api].ports[0].port``).
- ``images``: image references.
- ``metadata``: labels and annotations.
- ``dependencies``, ``application``: Application validation.
- ``environment``: Environment validation.
- ``profiles``: ClusterProfile, ServiceClass and AddonProfile validation.
- ``defaults``: the built-in (system default) profiles.
- ``resolution``: which ServiceClass provides a dependency in an environment.
- ``builds``: Build validation.
- ``score``: Score files (``score.dev/v1b1``) converted into Applications.
- ``normalise``: filling in defaults before specs are stored.
"""
