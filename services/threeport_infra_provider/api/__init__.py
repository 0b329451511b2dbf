"""api of the infra-provider."""
