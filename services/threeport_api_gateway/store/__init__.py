"""The ``gateway`` schema: tables, repositories and the queries the access layer needs."""
