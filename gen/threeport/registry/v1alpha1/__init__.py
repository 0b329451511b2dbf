"""Generated from protos/threeport/registry/v1alpha1; do not edit (tools/codegen/generate.py)."""
