"""Generated from protos/threeport/infra/v1alpha1; do not edit (tools/codegen/generate.py)."""
