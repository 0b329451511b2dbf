"""The two controllers: Cluster (provision, connect, onboard, probe, collect, tear down) and
ClusterClaim (place, bind, release)."""
