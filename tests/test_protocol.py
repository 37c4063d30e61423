"""The wire rules without a server: URLs, API roots, payloads, diffs, CLI conversion."""

from __future__ import annotations

import pytest

from gradio_session import EndpointNotFound, NotAGradioApp, ParameterError, StreamError
from gradio_session.models import AppInfo, Endpoint, Parameter
from gradio_session.binding import bind, convert_text, find_endpoint, split_cli_values
from gradio_session.protocol.dialects import Dialect, QueueV3, dialect_for
from gradio_session.protocol.discovery import api_root, derive_name, normalize_app_url, parse_app
from gradio_session.protocol.messages import EventDecoder, apply_diff, error_message


@pytest.mark.parametrize("given, url", [
    ("127.0.0.1:7860", "http://127.0.0.1:7860"),
    ("http://127.0.0.1:7860/", "http://127.0.0.1:7860"),
    ("https://abc-def.hf.space/?x=1", "https://abc-def.hf.space"),
    ("http://host/sub/app/", "http://host/sub/app"),
])
def test_normalize_app_url(given: str, url: str) -> None:
    assert normalize_app_url(given) == url


def test_normalize_rejects_other_schemes() -> None:
    with pytest.raises(NotAGradioApp):
        normalize_app_url("ftp://host/x")


def test_derive_name_keeps_host_port_and_path() -> None:
    assert derive_name("http://127.0.0.1:7860") == "127.0.0.1:7860"
    assert derive_name("http://host/sub/app") == "host/sub/app"


def test_api_root_for_gradio_4_and_5() -> None:
    assert api_root("http://h:1", {"api_prefix": "/gradio_api"}) == "http://h:1/gradio_api"
    assert api_root("http://h:1", {}) == "http://h:1"  # Gradio 4.x has no api_prefix


CONFIG = {
    "protocol": "sse_v3", "version": "6.31.0",
    "components": [{"id": 1, "type": "textbox"}, {"id": 2, "type": "state"}, {"id": 3, "type": "textbox"}],
    "dependencies": [{"id": 7, "api_name": "count", "inputs": [1, 2], "outputs": [3, 2],
                      "types": {"generator": False}}],
}
INFO = {"named_endpoints": {"/count": {
    "parameters": [{"parameter_name": "text", "label": "Text", "type": {"type": "string"},
                    "python_type": {"type": "str"}, "component": "Textbox", "parameter_has_default": False}],
    "returns": [{"label": "out", "type": {"type": "string"}, "python_type": {"type": "str"}, "component": "Textbox"}],
}}}


def test_state_slots_are_hidden_and_filled() -> None:
    app = parse_app(INFO, CONFIG)
    ep = app.endpoints["/count"]
    assert ep.fn_index == 7 and ep.input_state == (False, True) and ep.output_state == (False, True)
    dialect = dialect_for(app, "http://h:1/gradio_api")
    assert isinstance(dialect, QueueV3) and dialect.queued(ep)
    url, body = dialect.join(ep, ["hi"], "hash")
    assert url == "http://h:1/gradio_api/queue/join"
    assert body["data"] == ["hi", None] and body["fn_index"] == 7 and body["session_hash"] == "hash"
    decoder = EventDecoder(ep)
    assert decoder.queue_message({"msg": "process_completed", "success": True,
                                  "output": {"data": ["out", None]}}) == ("complete", ["out"])
    assert AppInfo.from_dict(app.to_dict()) == app


def test_dialects_route_by_protocol_family() -> None:
    queue = dialect_for(AppInfo(protocol="sse_v3"), "http://h:1/gradio_api")
    ep = Endpoint(name="/echo", fn_index=3)
    assert queue.stream("hash") == ("http://h:1/gradio_api/queue/data", {"session_hash": "hash"})
    assert queue.cancel(ep, "e1", "hash") == ("http://h:1/gradio_api/cancel",
                                              {"session_hash": "hash", "fn_index": 3, "event_id": "e1"})
    assert queue.cancel(Endpoint(name="/x"), "e1", "hash") is None  # no fn_index: nothing to cancel
    assert queue.file_url({"path": "/tmp/gradio/a b.txt"}) == "http://h:1/gradio_api/file=/tmp/gradio/a%20b.txt"
    assert queue.file_url({"path": "https://cdn.example/x.png"}) == "https://cdn.example/x.png"
    plain = dialect_for(AppInfo(protocol=None), "http://h:1")
    assert type(plain) is Dialect and not plain.queued(ep) and plain.cancel(ep, "e1", "hash") is None
    assert plain.call(ep, [1], "hash") == ("http://h:1/call/echo", {"data": [1], "session_hash": "hash"})
    assert plain.call_stream(ep, "e1") == "http://h:1/call/echo/e1"


def test_decoder_rebuilds_streamed_values() -> None:
    decoder = EventDecoder(Endpoint(name="/g", output_state=(False, False)))
    gen = {"msg": "process_generating", "success": True}
    assert decoder.queue_message({**gen, "output": {"data": ["a", [1]]}}) == ("generating", ["a", [1]])
    assert decoder.queue_message({**gen, "output": {"data": [[["append", [], "b"]], [["add", [1], 2]]]}}) == (
        "generating", ["ab", [1, 2]])
    assert decoder.queue_message({**gen, "output": {"data": [[["replace", [], "z"]], [["replace", [0], 9]]]}}) == (
        "generating", ["z", [9, 2]])
    err = decoder.queue_message({"msg": "process_completed", "success": False, "output": {"error": "boom"}})
    assert err == ("error", {"error": "boom"}) and error_message(err[1]) == "boom"
    assert decoder.queue_message({"msg": "estimation", "rank": 2, "queue_size": 5, "rank_eta": 1.5}) == (
        "queued", {"rank": 2, "queue_size": 5, "eta": 1.5})
    assert decoder.queue_message({"msg": "something_new"}) is None


def test_apply_diff_nested_and_delete() -> None:
    value = {"a": [1, 2, 3], "b": "x"}
    assert apply_diff(value, [["delete", ["a", 0], None], ["append", ["b"], "y"], ["add", ["c"], 1]]) == {
        "a": [2, 3], "b": "xy", "c": 1}
    assert value == {"a": [1, 2, 3], "b": "x"}  # the previous value is not changed
    with pytest.raises(StreamError, match="Unknown diff operation"):
        apply_diff("a", [["explode", [], "b"]])
    with pytest.raises(StreamError, match="Malformed streaming diff"):
        apply_diff("a", "b")


def test_error_message_shapes() -> None:
    assert error_message({"error": "x", "title": "Error"}) == "x"
    assert error_message("plain") == "plain"
    assert error_message({"error": None}) is None and error_message(None) is None


ENDPOINT = Endpoint(name="/e", parameters=(
    Parameter(name="text", label="Text", schema={"type": "string"}, python_type="str"),
    Parameter(name="n", schema={"type": "number"}, python_type="float", has_default=True, default=1),
    Parameter(name="flag", schema={"type": "boolean"}, python_type="bool", has_default=True, default=False),
    Parameter(name="items", schema={"type": "array"}, python_type="list[str]", has_default=True, default=[]),
))


def test_bind_fills_defaults_and_checks() -> None:
    assert bind(ENDPOINT, ["a"], {}) == ["a", 1, False, []]
    assert bind(ENDPOINT, [], {"text": "b", "flag": True}) == ["b", 1, True, []]
    with pytest.raises(ParameterError, match="Did you mean 'flag'"):
        bind(ENDPOINT, ["a"], {"flg": True})


def test_cli_words_convert_by_type() -> None:
    args, kwargs = split_cli_values(ENDPOINT, ["text=b", "n=2.5", "flag=yes", 'items=["x"]'])
    assert (args, kwargs) == ([], {"text": "b", "n": 2.5, "flag": True, "items": ["x"]})
    assert split_cli_values(ENDPOINT, ["hello world", "3", "off"]) == (["hello world", 3, False], {})
    assert split_cli_values(ENDPOINT, ["a b=c"]) == (["a b=c"], {})  # not identifier-like: positional
    with pytest.raises(ParameterError, match="no parameter 'x'"):
        split_cli_values(ENDPOINT, ["x=1"])
    with pytest.raises(ParameterError, match="before NAME=VALUE"):
        split_cli_values(ENDPOINT, ["text=a", "2"])
    with pytest.raises(ParameterError, match="not a valid array"):
        convert_text(ENDPOINT.parameters[3], '{"a": 1}')


def test_find_endpoint() -> None:
    app = AppInfo(endpoints={"/echo": Endpoint(name="/echo"), "/stream": Endpoint(name="/stream")})
    assert find_endpoint(app, "echo").name == "/echo"
    assert find_endpoint(app, "/stream").name == "/stream"
    with pytest.raises(EndpointNotFound, match="Did you mean /echo"):
        find_endpoint(app, "/ecoh")


def test_decoder_queue_progress_log_and_cancel() -> None:
    decoder = EventDecoder(Endpoint(name="/x"))
    assert decoder.queue_message({"msg": "estimation", "rank": 2, "queue_size": 5, "rank_eta": 1.5}) == (
        "queued", {"rank": 2, "queue_size": 5, "eta": 1.5})
    unit = {"index": 1, "length": 4, "unit": "steps", "progress": None, "desc": "Go", "extra": 1}
    assert decoder.queue_message({"msg": "progress", "progress_data": [unit]}) == (
        "progress", [{"index": 1, "length": 4, "unit": "steps", "progress": None, "desc": "Go"}])
    assert decoder.queue_message({"msg": "log", "log": "hi", "level": "warning", "title": "Warning"}) == (
        "log", {"level": "warning", "message": "hi", "title": "Warning"})
    # what Gradio 6.31 sends after /cancel: a completion without data
    assert decoder.queue_message({"msg": "process_completed", "success": True, "output": {}}) == ("cancelled", None)
    assert EventDecoder.call_event("complete", "null") == ("cancelled", None)
    assert decoder.queue_message({"msg": "process_completed", "success": True,
                                  "output": {"data": [None]}}) == ("complete", [None])


@pytest.mark.parametrize("sent, shown", [
    ('"cannot process \'x\'"', "cannot process 'x'"),  # Gradio 4: the message's repr
    ("'say \"hi\"\\n'", 'say "hi"\n'),
    ("plain message", "plain message"),
    ("'unbalanced", "'unbalanced"),
])
def test_gradio4_error_messages_lose_their_repr_quotes(sent: str, shown: str) -> None:
    gradio4 = dialect_for(AppInfo(protocol="sse_v3", version="4.44.1"), "http://h")
    gradio5 = dialect_for(AppInfo(protocol="sse_v3", version="5.50.0"), "http://h")
    message = {"msg": "process_completed", "success": False, "output": {"error": sent}}
    assert error_message(gradio4.decoder(Endpoint(name="/f")).queue_message(message)[1]) == shown
    assert error_message(gradio5.decoder(Endpoint(name="/f")).queue_message(message)[1]) == sent


def test_api_from_config_leaves_out_hidden_endpoints() -> None:
    """`/config` of 5.x says `show_api: false`, of 6.x `api_visibility: private`: not in the API."""
    from gradio_session.protocol.discovery import info_from_config

    text = {"id": 1, "type": "textbox", "props": {"label": "Your text", "value": "hi"}, "api_info": {"type": "string"}}
    deps = [{"api_name": "shown", "inputs": [1], "outputs": [1]},
            {"api_name": "hidden5", "show_api": False, "inputs": [1], "outputs": [1]},
            {"api_name": "hidden6", "api_visibility": "private", "inputs": [1], "outputs": [1]}]
    info = info_from_config({"components": [text], "dependencies": deps})
    assert list(info["named_endpoints"]) == ["/shown"]
    (param,) = parse_app(info, {"components": [text], "dependencies": deps}).endpoints["/shown"].parameters
    assert (param.name, param.default, param.has_default, param.python_type) == ("your_text", "hi", True, "str")


@pytest.mark.parametrize("version, protocol, refused", [
    ("2.9.4", None, "Gradio 2.9.4"), ("3.50.2", "ws", None), ("3.50.2", None, None), ("4.8.0", "sse", None),
    ("4.15.0", "sse_v1", None), ("4.20.0", "sse_v2", None), ("6.31.0", "sse_v3", None),
])
def test_gradio_families_without_a_dialect_are_refused(version: str, protocol: str | None, refused: str | None) -> None:
    from gradio_session.protocol.dialects import unsupported

    reason = unsupported(AppInfo(version=version, protocol=protocol))
    assert (reason is None) if refused is None else (refused in str(reason) and "3.x to 6.x" in str(reason))


@pytest.mark.parametrize("version, protocol, dialect, cancel", [
    ("3.50.2", "ws", "ws", ("/reset", {"session_hash": "h", "fn_index": 3})),
    ("3.50.2", None, "run", None),
    ("4.8.0", "sse", "sse", ("/reset", {"event_id": "e"})),
    ("4.15.0", "sse_v1", "sse_v1", ("/reset", {"event_id": "e"})),
    ("4.29.0", "sse_v3", "sse_v2", ("/reset", {"event_id": "e"})),
    ("4.44.1", "sse_v3", "sse_v3-gradio4", ("/cancel", {"session_hash": "h", "fn_index": 3, "event_id": "e"})),
    ("5.50.0", "sse_v3", "sse_v3", ("/cancel", {"session_hash": "h", "fn_index": 3, "event_id": "e"})),
])
def test_each_family_cancels_its_own_way(version: str, protocol: str | None, dialect: str,
                                         cancel: tuple[str, dict[str, object]] | None) -> None:
    d = dialect_for(AppInfo(version=version, protocol=protocol), "http://app")
    request = d.cancel(Endpoint(name="/f", parameters=(), returns=(), fn_index=3), "e", "h")
    assert d.name == dialect and request == (None if cancel is None else ("http://app" + cancel[0], cancel[1]))


def test_gradio3_files_and_whole_values() -> None:
    """Gradio 3.x: FileData goes out as `{name, is_file}` and comes back as FileData with its
    `/file=` URL; each generator message is the whole value (no diffs)."""
    from gradio_session.protocol.dialects import Gradio3

    d = Gradio3("http://app")
    ep = Endpoint(name="/f", parameters=(), returns=(), fn_index=0, input_state=(False, True))
    fd = {"path": "/tmp/x.txt", "url": None, "orig_name": "x.txt", "size": 3, "meta": {"_type": "gradio.FileData"}}
    _, body = d.join(ep, [fd], "h")
    assert body["data"] == [{"name": "/tmp/x.txt", "data": None, "is_file": True, "orig_name": "x.txt", "size": 3},
                            None]
    decoder = d.decoder(Endpoint(name="/f", parameters=(), returns=(), fn_index=0))
    out = {"name": "/srv/y.txt", "is_file": True, "data": None, "orig_name": None, "size": 2}
    name, data = decoder.queue_message({"msg": "process_completed", "output": {"data": [out]}, "success": True})
    assert name == "complete" and data[0]["path"] == "/srv/y.txt" and data[0]["orig_name"] == "y.txt"
    assert data[0]["url"] == "http://app/file=/srv/y.txt" and data[0]["meta"] == {"_type": "gradio.FileData"}
    for text in ("a", "ab"):
        message = {"msg": "process_generating", "output": {"data": [text]}}
        assert decoder.queue_message(message) == ("generating", [text])


def test_names_from_repeated_labels_stay_distinct() -> None:
    """Gradio 3.x's `/info` has no parameter names: they come from the labels, made distinct."""
    info = {"named_endpoints": {"/f": {"parameters": [{"label": "Text"}, {"label": "Text"}, {"label": None}],
                                       "returns": []}}}
    (ep,) = parse_app(info, {"version": "3.50.2", "enable_queue": True}).endpoints.values()
    assert [p.name for p in ep.parameters] == ["text", "text_2", "param_2"]


@pytest.mark.parametrize("message, expected", [
    ("You have exceeded your GPU quota (46s left vs. 60s requested). Sign-up on Hugging Face to get more "
     "quotas or retry in 0:09:48.", (True, 588.0)),
    ("ZeroGPU quota exceeded: 60s requested vs. 30s left. Try again in 1:00:05", (True, 3605.0)),
    ("ZeroGPU quota exceeded", (True, None)),
    ("cannot process 'x'", (False, None)),
    (None, (False, None)),
])
def test_zerogpu_quota_messages(message: str | None, expected: tuple[bool, float | None]) -> None:
    from gradio_session.protocol.messages import quota_retry

    assert quota_retry(message) == expected
