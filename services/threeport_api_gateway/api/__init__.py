"""gRPC servicers of the gateway's own API: projects, principals, tokens, role bindings, audit."""
