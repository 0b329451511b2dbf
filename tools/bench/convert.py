"""Benchmark of row -> message conversion and release kinds (issue 14: "cheaper row <-> protobuf").

Run: ``python tools/bench/convert.py [--rows 1000] [--repeat 200]`` (PostgreSQL as for the tests).
CPU time (``time.process_time``) per call, each against a baseline in the same run:

- ``to_message``: one realistic Deployment row (2 images, 5 conditions, dependency, rollout,
  outputs). Baseline ``parse_dict``: the conversion as it was before (``json_format.ParseDict``
  for conditions, spec and status, kept below as ``parse_dict_message``); ``changed``: a row
  converted for the first time (``convert.row_to_message``: ``json_documents.parse``);
  ``unchanged``: the repository's ``to_message`` of a row it converted before (message cache).
- ``list``: ``ResourceRepository.list`` of ``--rows`` Deployment rows in one page (what
  ``ListDeployments`` and the benchmark's 1 s poll do), every row converted for the first time
  (``changed``: a new repository) or again (``unchanged``); baselines: the query alone with
  JSONB decoded by ``json.loads`` (psycopg's default, as before) and by the engine's orjson
  loader, and the query with ``json.loads`` plus the old conversion (``parse_dict``, as before).
- ``released_kinds``: the kinds of a deployment's 5 releases of 12 manifests each, as every
  delivery reconcile asks for them; baseline: parsing their YAML, as before.

Last line: ``RESULT ...`` (``*_us`` per call, ``*_x`` how many times cheaper than the baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import yaml
from google.protobuf import json_format
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from threeport.common.v1alpha1 import condition_pb2, state_pb2
from threeport.delivery.v1alpha1 import deployment_pb2
from threeport_runtime.bus.outbox import Outbox
from threeport_runtime.conditions import set_condition, state_from_label
from threeport_runtime.db import convert
from threeport_runtime.db.engine import Database
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.db.page_tokens import PageTokenCodec
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.testing import throwaway_database, unique_stream_prefix
from threeport_workload_delivery.pipeline import live
from threeport_workload_delivery.service import DEFINITION as DELIVERY
from threeport_workload_delivery.store.tables import SCHEMA, DeploymentRow


def parse_dict_message(row: Any) -> deployment_pb2.Deployment:
    """``convert.row_to_message`` as it was before issue 14 (the baseline)."""
    message = deployment_pb2.Deployment()
    message.name = row.name
    message.uid = str(row.uid)
    message.labels.update(row.labels or {})
    message.annotations.update(row.annotations or {})
    message.create_time.CopyFrom(convert.timestamp(row.create_time))
    message.update_time.CopyFrom(convert.timestamp(row.update_time))
    message.etag = row.etag
    message.generation = row.generation
    message.reconciling = row.reconciling
    message.conditions.extend(
        json_format.ParseDict(item, condition_pb2.Condition(), ignore_unknown_fields=True) for item in row.conditions
    )
    message.state = state_from_label(row.state)
    json_format.ParseDict(row.spec, message.spec, ignore_unknown_fields=True)
    json_format.ParseDict(row.status, message.status, ignore_unknown_fields=True)
    return message


def realistic(index: int) -> DeploymentRow:
    """A converged Deployment row as delivery stores it."""
    message = deployment_pb2.Deployment()
    message.spec.application = "projects/bench/applications/shop"
    message.spec.environment = "projects/bench/environments/prod"
    for component in ("web", "worker"):
        message.spec.images[component].image = f"registry.local/shop/{component}:1.4.2"
    status = message.status
    status.cluster = f"projects/bench/clusters/c{index % 10}"
    status.namespace = f"bench-shop-{index}"
    status.current_release = 3
    dependency = status.dependencies.add(name="db", type="postgres", claim=f"projects/bench/claims/db-{index}")
    dependency.state = state_pb2.STATE_READY
    dependency.reason = "Ready"
    status.rollout.phase = deployment_pb2.ROLLOUT_PHASE_AVAILABLE
    status.rollout.desired_replicas = status.rollout.updated_replicas = status.rollout.ready_replicas = 2
    status.rollout.start_time.GetCurrentTime()
    status.outputs["url"] = f"http://shop-{index}.bench.local"
    for component in ("web", "worker"):
        status.images[component].image.image = f"registry.local/shop/{component}:1.4.2"
        status.images[component].origin = deployment_pb2.IMAGE_ORIGIN_APPLICATION
    for kind in ("Ready", "Placed", "DependenciesReady", "Applied", "Available"):
        set_condition(message.conditions, kind, True, reason="Converged", message="all objects are available",
                      observed_generation=1)
    now = datetime.now(UTC)
    return DeploymentRow(
        uid=uuid.uuid4(), name=f"projects/bench/deployments/shop-{index:05d}", parent="projects/bench",
        labels={"app": "shop"}, annotations={}, create_time=now, update_time=now, delete_time=None,
        etag=f"etag{index}", generation=1, reconciling=False, conditions=convert.conditions_to_json(message.conditions),
        state="STATE_READY", spec=convert.document(message, "spec"), status=convert.document(message, "status"),
        finalizers=[], request_id=None, status_fence=0,
    )


def cpu_per_call(call: Callable[[], object], repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        call()
    return (time.process_time() - started) / repeat * 1e6


async def async_cpu_per_call(call: Callable[[], Awaitable[object]], repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        await call()
    return (time.process_time() - started) / repeat * 1e6


def manifests(release: int) -> list[str]:
    objects = []
    for component in ("web", "worker", "cron"):
        labels = {"app.kubernetes.io/name": component, "threeport.io/deployment": "shop"}
        for api_version, kind in (("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "ConfigMap"),
                                  ("policy/v1", "PodDisruptionBudget")):
            spec = {"replicas": 2, "template": {"spec": {"containers": [
                {"name": component, "image": f"shop/{component}:{release}", "env": [{"name": "A", "value": "1"}]}]}}}
            objects.append({"apiVersion": api_version, "kind": kind,
                            "metadata": {"name": component, "namespace": "shop", "labels": labels}, "spec": spec})
    return [yaml.safe_dump(o) for o in objects]


def parse_kinds(releases: list[list[str]]) -> set[tuple[str, str]]:
    kinds: set[tuple[str, str]] = set()
    for texts in releases:
        kinds |= live.kinds_of(o for o in (yaml.safe_load(t) for t in texts) if isinstance(o, dict))
    return kinds


def released_kinds(releases: list[list[str]]) -> set[tuple[str, str]]:
    kinds: set[tuple[str, str]] = set()
    for texts in releases:
        kinds |= live.release_kinds(texts)
    return kinds


async def main(arguments: argparse.Namespace) -> None:
    results: dict[str, str] = {}
    repeat = arguments.repeat

    # -- one row --------------------------------------------------------------------------------
    row = realistic(0)
    async with throwaway_database() as url:
        await asyncio.to_thread(upgrade, DELIVERY.migrations_dir, url)
        db = Database(url)

        def new_repository() -> ResourceRepository[deployment_pb2.Deployment, DeploymentRow]:
            return ResourceRepository(
                db, Outbox(SCHEMA, service="bench", stream_prefix=unique_stream_prefix()), row_type=DeploymentRow,
                message_type=deployment_pb2.Deployment, page_tokens=PageTokenCodec(b"0123456789abcdef"),
            )

        repository = new_repository()
        assert parse_dict_message(row) == convert.row_to_message(row, deployment_pb2.Deployment)
        assert repository.to_message(row) == parse_dict_message(row)
        before = cpu_per_call(lambda: parse_dict_message(row), repeat)
        changed = cpu_per_call(lambda: convert.row_to_message(row, deployment_pb2.Deployment), repeat)
        unchanged = cpu_per_call(lambda: repository.to_message(row), repeat * 10)
        results |= {
            "to_message_parse_dict_us": f"{before:.0f}",
            "to_message_changed_us": f"{changed:.0f}",
            "to_message_unchanged_us": f"{unchanged:.1f}",
            "to_message_changed_x": f"{before / changed:.1f}",
            "to_message_unchanged_x": f"{before / unchanged:.0f}",
        }
        print(f"to_message: parse_dict {before:.0f} us, changed row {changed:.0f} us ({before / changed:.1f}x), "
              f"unchanged row {unchanged:.1f} us ({before / unchanged:.0f}x)", flush=True)

        # -- a List of every row ---------------------------------------------------------------
        async with db.session() as session, session.begin():
            session.add_all(realistic(index) for index in range(arguments.rows))
        lists = max(3, repeat // 40)
        query = select(DeploymentRow).order_by(DeploymentRow.name).limit(arguments.rows + 1)
        # As the engine decoded JSONB before: json.loads (psycopg's default).
        stdlib = async_sessionmaker(create_async_engine(url, json_deserializer=json.loads), expire_on_commit=False)

        async def rows_only(sessions: async_sessionmaker[AsyncSession] = db.sessions) -> list[DeploymentRow]:
            async with sessions() as session:
                return list((await session.scalars(query)).all())

        async def old_list() -> list[deployment_pb2.Deployment]:
            return [parse_dict_message(r) for r in await rows_only(stdlib)]

        async def new_list(fresh: bool = False) -> list[deployment_pb2.Deployment]:
            """A List by the repository; ``fresh``: one that has converted no row yet."""
            lister = new_repository() if fresh else repository
            messages, _ = await lister.list(parent="projects/bench", page_size=arguments.rows)
            assert len(messages) == arguments.rows
            return messages

        assert await old_list() == await new_list()
        # Alternating, so both engines see the same machine (the difference is ~10%).
        query_json = query_only = 0.0
        for _ in range(lists * 2):
            query_json += await async_cpu_per_call(lambda: rows_only(stdlib), 1) / (lists * 2)
            query_only += await async_cpu_per_call(rows_only, 1) / (lists * 2)
        old = await async_cpu_per_call(old_list, lists)
        cold = await async_cpu_per_call(lambda: new_list(fresh=True), lists)
        new = await async_cpu_per_call(new_list, lists)
        await db.dispose()
        await stdlib.kw["bind"].dispose()
    results |= {
        "list_rows": str(arguments.rows),
        "list_query_json_ms": f"{query_json / 1000:.1f}",
        "list_query_only_ms": f"{query_only / 1000:.1f}",
        "list_parse_dict_ms": f"{old / 1000:.1f}",
        "list_changed_ms": f"{cold / 1000:.1f}",
        "list_unchanged_ms": f"{new / 1000:.1f}",
        "list_changed_x": f"{old / cold:.1f}",
        "list_unchanged_x": f"{old / new:.1f}",
    }
    print(f"list of {arguments.rows}: query alone {query_json / 1000:.1f} ms (json.loads), "
          f"{query_only / 1000:.1f} ms (orjson); before (json.loads, parse_dict) {old / 1000:.1f} ms, "
          f"every row changed {cold / 1000:.1f} ms ({old / cold:.1f}x), unchanged {new / 1000:.1f} ms "
          f"({old / new:.1f}x)", flush=True)

    # -- released kinds ---------------------------------------------------------------------------
    releases = [manifests(number) for number in range(5)]
    assert parse_kinds(releases) == released_kinds(releases)
    parsed = cpu_per_call(lambda: parse_kinds(releases), max(3, repeat // 20))
    remembered = cpu_per_call(lambda: released_kinds(releases), repeat)
    results |= {
        "released_kinds_yaml_us": f"{parsed:.0f}",
        "released_kinds_us": f"{remembered:.1f}",
        "released_kinds_x": f"{parsed / remembered:.0f}",
    }
    print(f"released_kinds of 5 releases: yaml {parsed:.0f} us, now {remembered:.1f} us ({parsed / remembered:.0f}x)")
    print("RESULT " + " ".join(f"{key}={value}" for key, value in results.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000, help="rows in the listed table (default 1000)")
    parser.add_argument("--repeat", type=int, default=200, help="calls per single-row measurement (default 200)")
    asyncio.run(main(parser.parse_args()))
