"""EKS cluster infrastructure: the plan (pure), the AWS steps, the builder that runs them with an
inventory, and the Kubernetes API token (``aws eks get-token``)."""
