"""A toy service built on threeport_runtime the way a real service is, for the runtime tests.

It stores ``threeport.registry.v1alpha1.Application`` messages in its own ``toy`` schema and
serves ``ApplicationService``; its controller derives ``status.dependency_types`` and Ready.
"""
