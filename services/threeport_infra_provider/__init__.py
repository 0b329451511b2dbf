"""The infra-provider: cloud accounts, managed services for ServiceClaims, cluster infrastructure."""
