"""The I/O side of the delivery pipeline, shared by the Deployment reconciler (which converges
what it finds) and the Plan RPC (which only shows it): the inputs from the registry, the claims
held with the cluster-manager and the providers, and the objects live in the cluster. What to
do with them is decided purely in ``domain.plan``."""
