"""Generated from protos/threeport/sdk; do not edit (tools/codegen/generate.py)."""
