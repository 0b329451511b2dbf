"""store of the infra-provider."""
