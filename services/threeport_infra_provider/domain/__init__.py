"""domain of the infra-provider."""
