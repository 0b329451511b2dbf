"""``tptctl install``/``uninstall``: the control plane's Helm chart applied to a cluster."""
