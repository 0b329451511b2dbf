"""The local control plane behind ``tptctl up``, ``status`` and ``down``: embedded datastores and
supervised service processes, all kept in one state directory."""
