"""Generated from protos/threeport/clusters; do not edit (tools/codegen/generate.py)."""
