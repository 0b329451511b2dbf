"""gRPC plumbing: server bootstrap, interceptors (tracing, metrics, errors, identity), the
service-to-service client, and the generic Watch implementation.
"""
