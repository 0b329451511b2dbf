"""Pure rules of workload delivery (no I/O): names, rendering, references, rule matching,
release fingerprints, object diffing and rollout assessment."""
