"""The registry's gRPC servicers: thin methods over the repositories and the domain rules."""
