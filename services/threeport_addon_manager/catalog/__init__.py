"""The built-in addon catalog, shipped as ``kind: Addon`` manifests in ``builtin/``."""
