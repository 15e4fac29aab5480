import orjson
import pytest

from logwarden.ingest import bulk


def nd(*docs):
    return b"".join(orjson.dumps(d) + b"\n" for d in docs)


def test_index_and_create_items():
    items = bulk.parse(nd({"index": {"_index": "logs", "_id": "1"}}, {"message": "a"},
                          {"create": {}}, {"message": "b"}), default_index="filebeat")
    assert [(i.op, i.index, i.id, i.doc) for i in items] == [("index", "logs", "1", {"message": "a"}),
                                                             ("create", "filebeat", None, {"message": "b"})]


def test_per_item_errors_do_not_fail_the_batch():
    body = nd({"index": {"_index": "x"}}) + b"{not json\n" + nd({"delete": {"_index": "x", "_id": "9"}},
                                                                 {"update": {"_index": "x", "_id": "3"}}, {"doc": {}},
                                                                 {"index": {"_index": "x"}}, [1, 2],
                                                                 {"index": {"_index": "x"}}, {"message": "ok"})
    items = bulk.parse(body, None)
    assert [(i.op, i.error and i.error[:2]) for i in items] == [
        ("index", (400, "mapper_parsing_exception")), ("delete", (400, "illegal_argument_exception")),
        ("update", (400, "illegal_argument_exception")), ("index", (400, "mapper_parsing_exception")), ("index", None)]
    resp = bulk.response(items, 3)
    assert resp["errors"] is True and resp["took"] == 3
    assert resp["items"][0]["index"]["status"] == 400 and resp["items"][0]["index"]["error"]["type"] == "mapper_parsing_exception"
    ok = resp["items"][4]["index"]
    assert ok["status"] == 201 and ok["result"] == "created" and ok["_shards"]["successful"] == 1


@pytest.mark.parametrize("body,needle", [
    (b'{"index": {}}\n{"a": 1}', "terminated by a newline"),
    (b"garbage\n", "Malformed action/metadata line [1]"),
    (b'{"frobnicate": {}}\n{}\n', "found [frobnicate]"),
    (b'{"index": {}}\n{"message": "x"}\n', "index is missing"),
    (b'{"index": {"_index": "a"}}\n', "source line for action line [1] is missing"),
    (b"\n\n", "no requests added"),
])
def test_request_errors(body, needle):
    with pytest.raises(bulk.BulkRequestError) as exc:
        bulk.parse(body, None)
    assert needle in exc.value.reason


def test_error_body_shape():
    doc = bulk.error_body(401, "security_exception", "no")
    assert doc == {"error": {"root_cause": [{"type": "security_exception", "reason": "no"}], "type": "security_exception", "reason": "no"}, "status": 401}


from hypothesis import given, strategies as st  # noqa: E402

json_values = st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


ACTIONS = st.sampled_from([b'{"index":{}}', b'{"create":{"_index":"a","_id":"1"}}', b'{"delete":{"_id":"2"}}',
                           b'{"update":{"_index":"u"}}', b'{"index":{"_index":7}}'])


@given(st.lists(st.one_of(ACTIONS, ACTIONS, st.binary(max_size=30), json_values.map(orjson.dumps)), max_size=8))
def test_any_body_gives_items_or_a_request_error(lines):
    body = b"\n".join(lines) + b"\n"
    try:
        items = bulk.parse(body, "default")
    except bulk.BulkRequestError as exc:
        assert exc.reason
        return
    resp = bulk.response(items, 0)
    assert len(resp["items"]) == len(items) >= 1
    for it, r in zip(items, resp["items"]):
        (op, body_), = r.items()
        assert op == it.op and body_["status"] in (201, 400)
        assert (it.doc is not None) == (body_["status"] == 201)
        assert isinstance(body_["_index"], str)
