"""Turning a catalog entry, a version and values into Kubernetes objects and outputs."""
