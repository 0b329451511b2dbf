"""Generated from protos/threeport/clusters/v1alpha1; do not edit (tools/codegen/generate.py)."""
