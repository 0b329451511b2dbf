"""Pure rules of the cluster-manager (no I/O): derived names, kubeconfigs, connections, the
onboarding manifests and placement scoring. Locations, quantities and name rules are shared
vocabulary and live in ``threeport_model``.
"""
