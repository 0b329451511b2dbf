"""Pure rules of the cluster-manager (no I/O): locations, names, quantities, kubeconfigs,
connections, the onboarding manifests and placement scoring.
"""
