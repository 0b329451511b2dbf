"""Generated from protos/threeport/delivery; do not edit (tools/codegen/generate.py)."""
