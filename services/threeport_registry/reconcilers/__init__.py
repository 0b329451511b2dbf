"""The registry's controllers: they accept what users declared (Ready) and derive status."""
