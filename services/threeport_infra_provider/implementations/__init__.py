"""implementations of the infra-provider."""
