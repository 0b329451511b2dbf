"""Generated from protos/threeport/registry; do not edit (tools/codegen/generate.py)."""
