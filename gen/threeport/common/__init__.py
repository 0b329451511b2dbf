"""Generated from protos/threeport/common; do not edit (tools/codegen/generate.py)."""
