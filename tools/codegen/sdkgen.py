"""Placeholder replaced below."""
def write_sdk(descriptor_set: bytes, out):  # type: ignore[no-untyped-def]
    out.mkdir(parents=True, exist_ok=True)
