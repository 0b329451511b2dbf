"""Generated from protos/threeport/addons/v1alpha1; do not edit (tools/codegen/generate.py)."""
