"""Persistence: async SQLAlchemy engine, per-service schema, the generic resource repository.

Import from the submodules: ``engine``, ``schema``, ``repository``, ``filters``, ``page_tokens``,
``convert``, ``secret_fields``, ``migrations``.
"""
