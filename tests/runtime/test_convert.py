"""Row <-> message conversion (``db.convert``) and the per-row message cache (``db.message_cache``):
the fast paths give exactly what protobuf's ``ParseDict`` gives, and a row that changed in any
way is never served from the cache."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, select, text

from tests.runtime.toy_service.crash_writer import standalone_repository
from tests.runtime.toy_service.tables import ApplicationRow
from threeport.common.v1alpha1 import condition_pb2
from threeport.delivery.v1alpha1 import deployment_pb2, release_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport_runtime.conditions import set_condition
from threeport_runtime.db import convert, json_documents
from threeport_runtime.db.engine import Database
from threeport_runtime.db.message_cache import MessageCache
from threeport_runtime.db.plain_reads import PlainRead
from threeport_runtime.db.repository import ResourceRepository

# Timestamp's range (years 1 to 9999), nanoseconds as MessageToDict writes them (0, 3, 6, 9 digits).
seconds = st.integers(min_value=-62135596800, max_value=253402300799)
nanos = st.sampled_from([0, 1, 999_999_999, 120_000_000, 5_000, 123_456_789]) | st.integers(0, 999_999_999)
int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)
words = st.text(max_size=12)


@st.composite
def conditions(draw: st.DrawFn) -> condition_pb2.Condition:
    condition = condition_pb2.Condition(
        type=draw(words),
        status=draw(st.sampled_from(list(condition_pb2.ConditionStatus.values()))),
        reason=draw(words),
        message=draw(words),
        observed_generation=draw(int64s),
    )
    if draw(st.booleans()):
        condition.last_transition_time.seconds = draw(seconds)
        condition.last_transition_time.nanos = draw(nanos)
    return condition


def parse_dict(item: Any) -> condition_pb2.Condition | type[Exception]:
    """What the reference implementation makes of ``item``: the message, or its error type."""
    try:
        return json_format.ParseDict(item, condition_pb2.Condition(), ignore_unknown_fields=True)
    except Exception as error:  # compared with the fast path's
        return type(error)


def fast(item: Any) -> condition_pb2.Condition | type[Exception]:
    try:
        return convert.conditions_from_json([item])[0]
    except Exception as error:  # compared with ParseDict's
        return type(error)


@given(st.lists(conditions(), max_size=4))
def test_conditions_round_trip_through_their_stored_form(items: list[condition_pb2.Condition]) -> None:
    stored = convert.conditions_to_json(items)
    assert convert.conditions_from_json(stored) == items
    assert [parse_dict(item) for item in stored] == items


# Values a stored condition's fields might hold, right or wrong: what ParseDict accepts or
# rejects, the fast path must too.
json_values = st.one_of(
    st.none(),
    st.booleans(),
    int64s,
    st.integers(),
    st.floats(allow_nan=False),
    words,
    st.sampled_from(["CONDITION_STATUS_TRUE", "CONDITION_STATUS_BOGUS", "2", "9", "-1", "1 ", "1_0", "٣", "0x1"]),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,10})?(Z|[+-][0-9]{2}:[0-9]{2})?\Z"),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(words, st.integers(), max_size=2),
)
condition_keys = st.sampled_from(
    ["type", "status", "reason", "message", "observed_generation", "last_transition_time",
     "observedGeneration", "lastTransitionTime", "unknown"]
)


@given(st.dictionaries(condition_keys, json_values, max_size=6) | json_values)
@settings(max_examples=400)
def test_conditions_read_like_parse_dict_whatever_is_stored(item: Any) -> None:
    assert fast(item) == parse_dict(item)


@given(conditions())
def test_stored_conditions_are_read_without_parse_dict(condition: condition_pb2.Condition) -> None:
    """What conditions_to_json wrote takes the direct path (ParseDict is ~20x slower)."""
    stored = convert.conditions_to_json([condition])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_format, "ParseDict", refuse_parse_dict)
        assert convert.conditions_from_json(stored) == [condition]


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
       st.integers(0, 10), st.integers(0, 10**10))
def test_timestamps_read_like_from_json_string(when: datetime, digits: int, fraction: int) -> None:
    value = when.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction:010d}"[: digits + 1] if digits else "") + "Z"
    expected = Timestamp()
    try:
        expected.FromJsonString(value)
    except ValueError:
        return
    parsed = Timestamp()
    assert json_documents.parse_utc_timestamp(value, parsed)
    assert parsed == expected


# -- any stored document: json_documents.parse against ParseDict --------------------------------

SCALARS = {
    "string": words,
    "bool": st.booleans(),
    "int": st.one_of(int64s, int64s.map(str), st.integers(-(2**70), 2**70)),
}


def value_for(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    """Values of one field as MessageToDict writes them (mostly), or as it never would."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        item = field.message_type.fields_by_name["value"]
        right: st.SearchStrategy[Any] = st.dictionaries(words, single_value(item, depth), max_size=2)
    elif field.is_repeated:
        right = st.lists(single_value(field, depth), max_size=2)
    else:
        right = single_value(field, depth)
    return st.one_of(right, right, right, junk)


def single_value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.message_type is not None:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return st.builds(lambda s, n: Timestamp(seconds=s, nanos=n).ToJsonString(), seconds, nanos)
        if field.message_type.full_name.startswith("google.protobuf."):
            return junk
        return documents(field.message_type, depth + 1) if depth < 3 else st.just({})
    if field.enum_type is not None:
        return st.sampled_from([v.name for v in field.enum_type.values] + ["NOT_A_VALUE", "1", 1, 7, -1, 2**40])
    if field.type == FieldDescriptor.TYPE_STRING:
        return SCALARS["string"]
    if field.type == FieldDescriptor.TYPE_BOOL:
        return SCALARS["bool"]
    return SCALARS["int"]


junk = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), words, st.lists(st.none(), max_size=1),
                 st.dictionaries(words, st.integers(), max_size=1), st.just("2026-01-02T03:04:05+01:00"))


def documents(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    fields = list(descriptor.fields)
    keys = st.sampled_from(fields).flatmap(
        lambda f: st.tuples(st.sampled_from([f.name, f.name, f.name, f.json_name]), value_for(f, depth))
    )
    unknown = st.tuples(st.sampled_from(["unknown_field", "[ext.name]"]), st.integers())
    return st.lists(keys | unknown, max_size=5).map(dict)


def outcome(parse: Any, document: Any, field: str) -> bytes | type[Exception]:
    """The whole resource after reading ``document`` into its ``field`` (presence included)."""
    message = deployment_pb2.Deployment()
    try:
        parse(document, getattr(message, field))
    except Exception as error:  # compared between the two parsers
        return type(error)
    return message.SerializeToString(deterministic=True)


def reference(document: Any, target: Any) -> Any:
    return json_format.ParseDict(document, target, ignore_unknown_fields=True)


@given(st.data())
@settings(max_examples=400)
def test_documents_read_like_parse_dict(data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(["spec", "status"]))
    descriptor = deployment_pb2.Deployment.DESCRIPTOR.fields_by_name[field].message_type
    document = data.draw(documents(descriptor) | junk)
    assert outcome(json_documents.parse, document, field) == outcome(reference, document, field)


@pytest.mark.parametrize(("message_type", "proto_names"), [
    (deployment_pb2.DeploymentStatus, True),  # resource rows: proto field names
    (release_pb2.Release, False),  # releases: MessageToDict's default, JSON names
])
@given(data=st.data())
def test_stored_documents_are_read_without_parse_dict(data: st.DataObject, message_type: Any,
                                                      proto_names: bool) -> None:
    """What MessageToDict wrote (no floats, bytes or other well-known types) takes the direct path."""
    document = data.draw(documents(message_type.DESCRIPTOR))
    try:
        message = json_format.ParseDict(document, message_type(), ignore_unknown_fields=True)
    except json_format.ParseError:
        return
    stored = json_format.MessageToDict(message, preserving_proto_field_name=proto_names)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_format, "ParseDict", refuse_parse_dict)
        assert json_documents.parse(stored, message_type()) == message


@given(st.data())
@settings(max_examples=300)
def test_releases_read_like_parse_dict_whatever_names_they_use(data: st.DataObject) -> None:
    document = data.draw(documents(release_pb2.Release.DESCRIPTOR) | junk)

    def read(parse: Any) -> bytes | type[Exception]:
        try:
            return bytes(parse(document, release_pb2.Release()).SerializeToString(deterministic=True))
        except Exception as error:  # compared between the two parsers
            return type(error)

    assert read(json_documents.parse) == read(reference)


def test_a_field_named_by_both_its_names_reads_like_parse_dict() -> None:
    document = {"create_time": "2026-01-02T03:04:05Z", "createTime": "2027-01-02T03:04:05Z"}
    assert json_documents.parse(document, release_pb2.Release()) == reference(document, release_pb2.Release())


def refuse_parse_dict(*_args: Any, **_kwargs: Any) -> None:
    raise AssertionError("ParseDict was used for a document in its stored form")


# -- JSONB text: json_documents.loads against json.loads ---------------------------------------

json_trees = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-(2**80), 2**80), st.floats(),
              st.text(max_size=8), st.sampled_from(["\ud800", "x\udfff", "é", "12345678901234567890"])),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=12,
)


def typed(value: Any) -> Any:
    """``value`` with every leaf's type beside it (so 1 != 1.0 != True, and -0.0 != 0.0)."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, repr(value))


@given(json_trees, st.booleans())
@settings(max_examples=300)
def test_json_text_is_read_like_json_loads(tree: Any, ascii_only: bool) -> None:
    text = json.dumps(tree, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    try:
        expected = typed(json.loads(text))
    except ValueError as error:
        with pytest.raises(type(error)):
            json_documents.loads(text)
        return
    assert typed(json_documents.loads(text)) == expected


async def test_the_engine_reads_jsonb_with_orjson(migrated_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = orjson.loads

    def counting(data: bytes) -> Any:
        calls.append(data)
        return real(data)

    fake = SimpleNamespace(loads=counting, JSONDecodeError=orjson.JSONDecodeError)
    monkeypatch.setattr(json_documents, "orjson", fake)
    db = Database(migrated_database)
    try:
        async with db.session() as session:
            big = await session.scalar(text("""SELECT '{"a": [1, 2.5], "big": 123456789012345678901}'::jsonb"""))
            assert big == {"a": [1, 2.5], "big": 123456789012345678901}
            assert calls == []  # 21 digits: json.loads read it, exactly
            small = await session.scalar(text("""SELECT '{"a": [1, 2.5, "x"]}'::jsonb"""))
            assert small == {"a": [1, 2.5, "x"]} and len(calls) == 1
    finally:
        await db.dispose()


def deployment(generation: int = 3) -> deployment_pb2.Deployment:
    message = deployment_pb2.Deployment()
    message.spec.application = "projects/acme/applications/shop"
    message.spec.environment = "projects/acme/environments/prod"
    message.spec.images["web"].image = "shop:1"
    message.status.cluster = "projects/acme/clusters/c1"
    message.status.current_release = 4
    message.status.rollout.start_time.seconds = 1_700_000_000
    message.status.outputs["url"] = "http://shop"
    for kind in ("Ready", "Placed", "Applied"):
        set_condition(message.conditions, kind, True, reason="Done", observed_generation=generation,
                      now=datetime(2026, 1, 2, tzinfo=UTC))
    return message


def row_of(message: deployment_pb2.Deployment, **changes: Any) -> ApplicationRow:
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    row = ApplicationRow(
        uid=uuid.UUID(int=7),
        name="projects/acme/deployments/shop",
        labels={"team": "a"},
        annotations={},
        create_time=now,
        update_time=now,
        delete_time=None,
        etag="e1",
        generation=3,
        reconciling=False,
        conditions=convert.conditions_to_json(message.conditions),
        state="STATE_READY",
        spec=convert.document(message, "spec"),
        status=convert.document(message, "status"),
    )
    for column, value in changes.items():
        setattr(row, column, value)
    return row


def convert_cached(cache: MessageCache[deployment_pb2.Deployment], row: ApplicationRow) -> deployment_pb2.Deployment:
    return cache.convert(
        row, row.spec, row.status, lambda: convert.row_to_message(row, deployment_pb2.Deployment)
    )


# One change to each input of row_to_message, the etag and update time left alone.
CHANGES: dict[str, Any] = {
    "name": "projects/acme/deployments/other",
    "uid": uuid.UUID(int=8),
    "labels": {"team": "b"},
    "annotations": {"note": "x"},
    "create_time": datetime(2025, 1, 1, tzinfo=UTC),
    "update_time": datetime(2026, 1, 2, 3, 4, 5, 678902, tzinfo=UTC),
    "delete_time": datetime(2026, 2, 1, tzinfo=UTC),
    "etag": "e2",
    "generation": 4,
    "reconciling": True,
    "conditions": convert.conditions_to_json(deployment(generation=2).conditions),
    "state": "STATE_RECONCILING",
    "spec": {**convert.document(deployment(), "spec"), "paused": True},
    "status": {**convert.document(deployment(), "status"), "current_release": "5"},
}


@pytest.mark.parametrize("column", sorted(CHANGES))
def test_a_row_changed_in_any_column_is_converted_again(column: str) -> None:
    cache: MessageCache[deployment_pb2.Deployment] = MessageCache(deployment_pb2.Deployment)
    before = convert_cached(cache, row_of(deployment()))
    assert convert_cached(cache, row_of(deployment())) == before and cache.hits == 1
    changed = row_of(deployment(), **{column: CHANGES[column]})
    assert convert_cached(cache, changed) == convert.row_to_message(changed, deployment_pb2.Deployment)
    assert convert_cached(cache, changed) != before
    assert cache.hits == 2 and cache.misses == 2


def test_a_json_document_changed_in_place_is_converted_again() -> None:
    """The cache keeps no reference to the row's dicts: mutating them in place is a change too."""
    cache: MessageCache[deployment_pb2.Deployment] = MessageCache(deployment_pb2.Deployment)
    row = row_of(deployment())
    convert_cached(cache, row)
    row.status["cluster"] = "projects/acme/clusters/c2"
    row.conditions[0]["status"] = "CONDITION_STATUS_FALSE"
    again = convert_cached(cache, row)
    assert again.status.cluster == "projects/acme/clusters/c2"
    assert again.conditions[0].status == condition_pb2.CONDITION_STATUS_FALSE


def test_cached_messages_are_copies_and_the_cache_is_bounded() -> None:
    cache: MessageCache[deployment_pb2.Deployment] = MessageCache(deployment_pb2.Deployment, capacity=2)
    first = convert_cached(cache, row_of(deployment()))
    first.status.cluster = "mutated by a caller"
    assert convert_cached(cache, row_of(deployment())).status.cluster == "projects/acme/clusters/c1"
    for number in range(3):
        convert_cached(cache, row_of(deployment(), uid=uuid.UUID(int=100 + number)))
    assert len(cache) == 2


def test_cached_messages_are_kept_deflated_even_when_the_first_was_small() -> None:
    """A row's message is kept deflated: rows of one table share most of their message's bytes.
    The first row a service converts may be one just created, with little in it; those after it
    still cost a fraction of their size."""
    cache: MessageCache[deployment_pb2.Deployment] = MessageCache(deployment_pb2.Deployment)
    just_created = row_of(deployment_pb2.Deployment(), uid=uuid.UUID(int=99), conditions=[], state="STATE_RECONCILING")
    convert_cached(cache, just_created)
    rows = [row_of(deployment(), uid=uuid.UUID(int=100 + number), name=f"projects/acme/deployments/shop-{number}")
            for number in range(20)]
    messages = [convert_cached(cache, row) for row in rows]
    for row, message in zip(rows[1:], messages[1:], strict=True):
        _, packed = cache._entries[row.uid]
        assert len(packed) * 3 < message.ByteSize()
        assert convert_cached(cache, row) == message
    assert convert_cached(cache, just_created) == convert.row_to_message(just_created, deployment_pb2.Deployment)
    assert cache.hits == 20


def test_rows_orjson_cannot_serialize_are_converted_without_the_cache() -> None:
    cache: MessageCache[deployment_pb2.Deployment] = MessageCache(deployment_pb2.Deployment)
    row = row_of(deployment(), labels={"big": 2**70})  # not a JSON number orjson writes
    with pytest.raises(TypeError):
        convert_cached(cache, row)  # row_to_message's own error, as before
    assert len(cache) == 0


# -- against PostgreSQL: the repository's reads ---------------------------------------------------

NAME = "projects/acme/applications/cached"


async def test_unchanged_rows_are_served_from_the_cache_and_changed_ones_never(
    migrated_database: str, stream_prefix: str
) -> None:
    db = Database(migrated_database)
    try:
        await reads_and_changes(standalone_repository(db, stream_prefix), db)
    finally:
        await db.dispose()


async def reads_and_changes(repo: ResourceRepository[Any, Any], db: Database) -> None:
    app = application_pb2.Application()
    app.spec.components["web"].image = "nginx:1"
    await repo.create(app, name=NAME)
    first = await repo.get(NAME)
    hits = repo._messages.hits
    again = await repo.get(NAME)
    assert again == first and repo._messages.hits == hits + 1
    (listed,), _ = await repo.list(parent="projects/acme")
    assert listed == first and repo._messages.hits == hits + 2

    # Changed behind the repository's back: same etag and update time, other spec and status.
    async with db.session() as session, session.begin():
        await session.execute(
            text(
                "UPDATE toy.applications SET spec = jsonb_set(spec, '{components,web,image}', '\"nginx:2\"'), "
                "conditions = '[{\"type\": \"Ready\", \"status\": \"CONDITION_STATUS_TRUE\"}]' WHERE name = :name"
            ),
            {"name": NAME},
        )
    changed = await repo.get(NAME)
    assert changed.etag == first.etag
    assert changed.spec.components["web"].image == "nginx:2"
    assert [c.type for c in changed.conditions] == ["Ready"]

    # And through the repository's own writes.
    written = await repo.update_status(
        NAME, lambda r: set_condition(r.conditions, "Ready", False, reason="Drifted", observed_generation=1)
    )
    assert written is not None
    read = await repo.get(NAME)
    assert read == written and read.conditions[0].reason == "Drifted"
    assert read.update_time.ToDatetime(UTC) - first.update_time.ToDatetime(UTC) > timedelta(0)


async def test_a_plain_read_converts_to_the_message_a_session_read_does(
    migrated_database: str, stream_prefix: str
) -> None:
    """``Database.fetch`` (the hot reads: no ORM session), through Core or as a ``PlainRead`` (no
    SQLAlchemy execution), gives rows with the same columns and values as the ORM's, so each
    converts to the same message."""
    db = Database(migrated_database)
    try:
        repo = standalone_repository(db, stream_prefix)
        app = application_pb2.Application()
        app.labels["team"] = "web"
        app.annotations["note"] = "x"
        app.spec.components["web"].image = "nginx:1"
        created = await repo.create(app, name=NAME)
        await repo.update_status(NAME, lambda stored: set_condition(
            stored.conditions, "Ready", True, reason="Up", message="ok", observed_generation=1))
        assert await repo.add_finalizer(NAME, "test.threeport.io/kept")
        async with db.read_session() as session:
            orm_row = await session.scalar(select(ApplicationRow).where(ApplicationRow.name == NAME))
        by_name = select(ApplicationRow.__table__).where(ApplicationRow.name == bindparam("name"))
        (plain_row,) = await db.fetch(by_name, {"name": NAME})
        (prepared_row,) = await db.fetch(PlainRead(by_name), {"name": NAME})
        assert orm_row is not None
        # Column for column, with the same Python types (the JSON documents, the array, the UUID).
        assert tuple(prepared_row) == tuple(plain_row)
        assert [type(value) for value in prepared_row] == [type(value) for value in plain_row]
        assert prepared_row.finalizers == plain_row.finalizers and prepared_row.status == plain_row.status
        from_session = convert.row_to_message(orm_row, application_pb2.Application)
        from_plain = convert.row_to_message(plain_row, application_pb2.Application)
        assert from_plain == from_session
        assert convert.row_to_message(prepared_row, application_pb2.Application) == from_session
        assert from_plain.uid == created.uid and [c.type for c in from_plain.conditions] == ["Ready"]
        assert (await repo.read(NAME)).message == from_session
        assert (await repo.find(NAME, 'labels.team = "web"')) == from_session
        assert await repo.find(NAME, 'labels.team = "db"') is None
    finally:
        await db.dispose()
