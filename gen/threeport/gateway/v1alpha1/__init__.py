"""Generated from protos/threeport/gateway/v1alpha1; do not edit (tools/codegen/generate.py)."""
