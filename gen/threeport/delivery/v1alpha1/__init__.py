"""Generated from protos/threeport/delivery/v1alpha1; do not edit (tools/codegen/generate.py)."""
