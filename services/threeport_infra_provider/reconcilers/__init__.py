"""reconcilers of the infra-provider."""
