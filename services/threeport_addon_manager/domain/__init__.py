"""Pure rules of the addon-manager: catalog entries (``catalog``), installation names and object
order (``installations``). No I/O."""
