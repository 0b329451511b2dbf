"""Generated from protos/threeport/common/v1alpha1; do not edit (tools/codegen/generate.py)."""
