"""Pure rules of workload delivery (no I/O): names, rendering, release fingerprints, object
diffing and rollout assessment. References, dependency types, namespaces and auto-deploy rules
are shared vocabulary and live in ``threeport_model``."""
