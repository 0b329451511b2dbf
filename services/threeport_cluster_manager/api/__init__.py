"""gRPC servicers: thin methods over the repositories, drivers and credential store."""
