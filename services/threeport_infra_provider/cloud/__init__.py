"""cloud of the infra-provider."""
