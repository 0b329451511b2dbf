"""Simulated controllers: what kube-controller-manager, the scheduler and kubelets would do, in-process."""
