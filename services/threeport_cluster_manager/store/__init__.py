"""Storage of the ``clusters`` schema: tables, repositories and the encrypted credentials."""
