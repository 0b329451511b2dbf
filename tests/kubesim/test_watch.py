"""Watch semantics: initial state, resume from a resourceVersion, 410 Gone for expired versions,
bookmarks, label-filtered transitions, timeouts, and the asyncio client."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.aio import client as aio_client
from kubernetes.aio import config as aio_config
from kubernetes.aio import watch as aio_watch

from threeport_kubesim.testing import EmulatorHandle

ConfigMap = client.V1ConfigMap
Meta = client.V1ObjectMeta


def _events(core: client.CoreV1Api, namespace: str, **kwargs: Any) -> list[tuple[str, str]]:
    seen = []
    for event in watch.Watch().stream(core.list_namespaced_config_map, namespace, timeout_seconds=1, **kwargs):
        seen.append((event["type"], event["object"].metadata.name))
    return seen


def test_watch_from_now_and_resume(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="before")))
    listed = core.list_namespaced_config_map(namespace)
    start_rv = listed.metadata.resource_version
    core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="after")))
    core.patch_namespaced_config_map("before", namespace, {"data": {"x": "1"}})
    core.delete_namespaced_config_map("after", namespace)
    # "after" was created and deleted inside the window: a resumed watch may fold it away entirely.
    assert _events(core, namespace, resource_version=start_rv) == [("MODIFIED", "before")]
    # Without a resourceVersion a watch starts with the current state as ADDED events.
    assert ("ADDED", "before") in _events(core, namespace)


def test_live_watch_sees_each_change_in_order(core: client.CoreV1Api, namespace: str) -> None:
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    received: list[tuple[str, str]] = []

    def consume() -> None:
        stream = watch.Watch().stream(
            core.list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=5
        )
        for event in stream:
            received.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                break

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.2)
    core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="live")))
    core.patch_namespaced_config_map("live", namespace, {"data": {"a": "1"}})
    core.delete_namespaced_config_map("live", namespace)
    consumer.join(timeout=10)
    assert received == [("ADDED", "live"), ("MODIFIED", "live"), ("DELETED", "live")]


def test_expired_resource_version_gets_410(core: client.CoreV1Api, namespace: str) -> None:
    old_rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    # The session emulator keeps a 300-change window; push the old version out of it.
    for index in range(320):
        core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name=f"churn-{index}")))
    stream = watch.Watch().stream(
        core.list_namespaced_config_map, namespace, resource_version=old_rv, timeout_seconds=2
    )
    with pytest.raises(client.ApiException) as gone:
        list(stream)
    assert gone.value.status == 410


def test_label_filtered_watch_reports_leaving_the_selection(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="sel", labels={"team": "a"})))
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    received: list[tuple[str, str]] = []

    def consume() -> None:
        for event in watch.Watch().stream(
            core.list_namespaced_config_map,
            namespace,
            resource_version=rv,
            label_selector="team=a",
            timeout_seconds=5,
        ):
            received.append((event["type"], event["object"].metadata.name))
            if len(received) == 2:
                break

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.2)
    core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="other", labels={"team": "b"})))
    core.patch_namespaced_config_map("sel", namespace, {"metadata": {"labels": {"team": "b"}}})
    core.patch_namespaced_config_map("other", namespace, {"metadata": {"labels": {"team": "a"}}})
    consumer.join(timeout=10)
    assert received == [("DELETED", "sel"), ("ADDED", "other")]


def test_bookmarks_and_field_selected_watch(api: client.ApiClient, core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="bm")))
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    response = core.list_namespaced_config_map(
        namespace,
        watch=True,
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=2,
        field_selector="metadata.name=bm",
        _preload_content=False,
    )
    core.patch_namespaced_config_map("bm", namespace, {"data": {"k": "v"}})
    core.create_namespaced_config_map(namespace, ConfigMap(metadata=Meta(name="not-selected")))
    lines = [json.loads(line) for line in response.data.decode().splitlines() if line.strip()]
    types = [line["type"] for line in lines]
    assert types[0] == "MODIFIED" and lines[0]["object"]["metadata"]["name"] == "bm"
    assert "BOOKMARK" in types
    assert all(line["object"]["metadata"].get("name") in (None, "bm") for line in lines)
    bookmark = next(line for line in lines if line["type"] == "BOOKMARK")
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(rv)


async def test_asyncio_client_lists_and_watches(
    emulator: EmulatorHandle, core: client.CoreV1Api, namespace: str
) -> None:
    configuration = aio_client.Configuration()
    await aio_config.load_kube_config(config_file=emulator.kubeconfig("main"), client_configuration=configuration)
    async with aio_client.ApiClient(configuration) as api:
        v1 = aio_client.CoreV1Api(api)
        await v1.create_namespaced_config_map(
            namespace, aio_client.V1ConfigMap(metadata=aio_client.V1ObjectMeta(name="aio"), data={"x": "1"})
        )
        listed = await v1.list_namespaced_config_map(namespace)
        assert "aio" in [c.metadata.name for c in listed.items]
        seen = []
        async with aio_watch.Watch() as stream:
            async for event in stream.stream(
                v1.list_namespaced_config_map,
                namespace,
                field_selector="metadata.name=aio",
                timeout_seconds=2,
            ):
                seen.append((event["type"], event["object"].metadata.name))
        assert seen == [("ADDED", "aio")]
