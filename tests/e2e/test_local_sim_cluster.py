"""`tptctl up --with-sim-cluster` keeps the local sim cluster: the emulator writes its clusters
through to the state directory, and a cluster the emulator no longer has is rebuilt (issue 17
item 9) instead of staying Unreachable."""

from __future__ import annotations

from threeport_cli.local.statedir import StateDir
from threeport_kubesim.control import ControlClient

from .conftest import ControlPlane, run_tptctl


def test_up_rebuilds_a_sim_cluster_the_emulator_lost(control_plane: ControlPlane) -> None:
    kubesim = StateDir(control_plane.state_dir).load().find("kubesim")
    assert kubesim is not None
    control = ControlClient(kubesim.url)
    with control_plane.client() as client:
        infrastructure = client.cluster.get_cluster(name="clusters/local").status.infrastructure
    emulated = infrastructure.removeprefix("sim/")
    assert emulated in {c.name for c in control.list_clusters()}
    assert (control_plane.state_dir / "kubesim" / "state" / emulated / "journal").exists()

    control.delete_cluster(emulated)
    again = run_tptctl(control_plane.config_file, "up", "--state-dir", str(control_plane.state_dir),
                       "--with-sim-cluster")
    assert again.returncode == 0, again.stderr
    # `up` restarts the cluster-manager to rebuild it ("rebuilding" in its progress), unless the
    # cluster-manager's own health probe noticed the loss first and rebuilt it already: either way
    # the cluster is back, at the same address the control plane records, when `up` returns.
    assert emulated in {c.name for c in control.list_clusters()}
    with control_plane.client() as client:
        assert client.cluster.get_cluster(name="clusters/local").status.endpoint == control.get_cluster(emulated).server
