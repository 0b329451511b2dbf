"""The cluster-manager service: clusters, cluster claims and their credentials (schema ``clusters``)."""
