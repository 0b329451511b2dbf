"""Generated from protos/threeport/gateway; do not edit (tools/codegen/generate.py)."""
