"""The ``addons`` schema and its repositories."""
