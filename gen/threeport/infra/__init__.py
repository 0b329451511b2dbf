"""Generated from protos/threeport/infra; do not edit (tools/codegen/generate.py)."""
