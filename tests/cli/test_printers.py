"""``-o wide`` shows, for deployments, which image each component runs and why (a pin, a build)."""

from __future__ import annotations

from threeport.delivery.v1alpha1 import deployment_pb2, release_pb2
from threeport.registry.v1alpha1 import environment_pb2
from threeport_cli.printers import rows


def test_wide_deployments_show_images_with_their_origin() -> None:
    status = deployment_pb2.DeploymentStatus(
        images={
            "api": deployment_pb2.ImageSource(image=release_pb2.ImageRef(image="reg/api:1.1", digest="sha256:ab"),
                                              origin=deployment_pb2.IMAGE_ORIGIN_BUILD),
            "worker": deployment_pb2.ImageSource(image=release_pb2.ImageRef(image="reg/worker:pinned"),
                                                 origin=deployment_pb2.IMAGE_ORIGIN_PIN),
        })
    deployment = deployment_pb2.Deployment(name="projects/acme/deployments/shop-dev", status=status)
    header, row = rows([deployment], wide=True)
    assert header[4:8] == ["CLUSTER", "NAMESPACE", "RELEASE", "IMAGES"]
    assert row[header.index("IMAGES")] == "api=reg/api:1.1@sha256:ab (build),worker=reg/worker:pinned (pin)"
    assert "IMAGES" not in rows([deployment], wide=False)[0]
    assert "IMAGES" not in rows([environment_pb2.Environment(name="projects/acme/environments/dev")], wide=True)[0]


def test_releases_show_why_they_were_made_and_their_approval_not_blank_state_columns() -> None:
    release = release_pb2.Release(
        name="projects/acme/deployments/shop-dev/releases/3", number=3, reason=release_pb2.RELEASE_REASON_BUILD,
        approval=release_pb2.APPROVAL_STATE_PENDING, message="build b-7",
        images={"api": release_pb2.ImageRef(image="reg/api:1.2", digest="sha256:" + "c" * 64)})
    release.create_time.GetCurrentTime()
    initial = release_pb2.Release(name="projects/acme/deployments/shop-dev/releases/1", number=1,
                                  reason=release_pb2.RELEASE_REASON_INITIAL)

    header, row, first = rows([release, initial], wide=False)
    assert header == ["NAME", "REASON", "APPROVAL", "AGE"]
    assert row[:3] == ["shop-dev/3", "build", "pending"] and row[3].endswith("s")
    assert first[:3] == ["shop-dev/1", "initial", "-"]

    header, row = rows([release], wide=True)
    assert header == ["NAME", "REASON", "APPROVAL", "AGE", "IMAGES", "MESSAGE", "PROJECT"]
    assert row[4:] == ["api=reg/api:1.2@sha256:cccccccccccc", "build b-7", "acme"]
