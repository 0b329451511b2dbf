"""The registry's tables in its own schema, ``registry``."""
