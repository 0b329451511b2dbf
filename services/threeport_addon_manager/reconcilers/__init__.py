"""The addon-manager's reconcilers: AddonClaim (binding, ref-counting) and AddonInstallation
(install, upgrade, health, uninstall)."""
