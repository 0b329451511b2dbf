"""One module per group of tptctl commands; each has ``register(subparsers)``."""
