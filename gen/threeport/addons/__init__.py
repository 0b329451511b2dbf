"""Generated from protos/threeport/addons; do not edit (tools/codegen/generate.py)."""
