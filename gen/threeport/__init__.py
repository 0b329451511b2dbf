"""Threeport's generated API package: protobuf messages, gRPC stubs and the SDK facade.

Everything under this package is produced by ``tools/codegen`` from ``protos/``; do not edit it.
"""
