"""The addon-manager service: the addon catalog, addon claims and installations (schema ``addons``)."""
