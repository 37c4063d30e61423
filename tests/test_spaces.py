"""Hugging Face Spaces through a Hub stand-in (`hub_standin.py`, found through HF_ENDPOINT) whose
Spaces are served by a real local Gradio app: found by id, woken, waited for, refused clearly."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import APPS, AppServer, cli

STANDIN = Path(__file__).resolve().parent / "hub_standin.py"
TOKEN = "hf_testtoken123456"


class Hub:
    """The running stand-in: add Spaces to it, see what it was asked (path, Authorization)."""

    def __init__(self, spec: Path, seen: Path) -> None:
        self._spec, self._seen = spec, seen

    def add(self, space: str, **fields: object) -> None:
        self._spec.write_text(json.dumps({**json.loads(self._spec.read_text()), space: fields}))

    def __call__(self) -> list[dict]:
        return [json.loads(line) for line in self._seen.read_text().splitlines()]


@pytest.fixture
def hub(demo_app: AppServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    """The stand-in with a few scripted Spaces, all served by the demo app."""
    spaces = {
        "alice/awake": {"host": demo_app.url},
        "alice/sleepy": {"host": demo_app.url, "stages": ["SLEEPING", "APP_STARTING", "RUNNING"]},
        "alice/busyhub": {"host": demo_app.url, "stages": ["APP_STARTING", "RUNNING"], "limited": 2},
        "alice/broken": {"host": demo_app.url, "stages": ["BUILDING", "BUILD_ERROR"],
                         "error": "pip install failed: no matching distribution for torch==0.0"},
        "alice/slowbuild": {"host": demo_app.url, "stages": ["BUILDING"]},
        "alice/paused": {"host": demo_app.url, "stages": ["PAUSED"]},
        "alice/streamlit": {"host": demo_app.url, "sdk": "streamlit"},
        "alice/secret": {"host": demo_app.url, "private": True, "token": TOKEN},
    }
    spec, seen = tmp_path / "spaces.json", tmp_path / "seen.jsonl"
    spec.write_text(json.dumps(spaces))
    seen.touch()
    with AppServer(STANDIN, str(spec), str(seen), ready="/ready") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no saved login of this machine
        yield Hub(spec, seen)


def test_a_space_by_id_and_by_its_page(hub: Hub) -> None:
    s = gs.new_session("alice/awake")
    assert s.name == "alice/awake" and s.call("echo", "hi") == ["hi"]
    page = gs.new_session(f"{os.environ['HF_ENDPOINT']}/spaces/alice/awake", name="by-page")
    assert page.record.app_url == s.record.app_url and page.call("add", 1, 2) == [3]


def test_a_sleeping_space_is_woken_and_waited_for(hub: Hub) -> None:
    heard: list[str] = []
    s = gs.new_session("alice/sleepy", on_stage=heard.append)
    assert heard == ["SLEEPING", "APP_STARTING", "RUNNING"] and s.call("echo", "up") == ["up"]


def test_the_hubs_rate_limit_is_honoured(hub: Hub) -> None:
    """429s while waiting: the stage is read again after the `ratelimit` header's wait, not given up."""
    heard: list[str] = []
    s = gs.new_session("alice/busyhub", on_stage=heard.append)
    assert heard == ["APP_STARTING", "RUNNING"] and s.call("echo", "ok") == ["ok"]
    assert sum(seen["path"].endswith("/alice/busyhub/runtime") for seen in hub()) == 3


def test_the_cli_says_each_stage(hub: Hub) -> None:
    r = cli("new", "alice/sleepy")
    assert r.returncode == 0, r.stderr
    assert "asleep, waking it up" in r.stderr and "starting" in r.stderr and "running" in r.stderr
    assert "Created session alice/sleepy" in r.stdout
    assert cli("call", "echo", "x", "--session", "alice/sleepy").stdout == "x\n"


@pytest.mark.parametrize("space, message", [
    ("alice/broken", r"BUILD_ERROR: pip install failed: no matching distribution .* See http://.*/spaces/alice/broken"),
    ("alice/paused", r"is PAUSED"),
    ("alice/nothing", r"No Space alice/nothing that you can see: .* Log in with `hf auth login` or pass --token"),
    ("alice/secret", r"No Space alice/secret that you can see"),
])
def test_spaces_that_cant_be_reached_are_told_apart(hub: Hub, space: str, message: str) -> None:
    with pytest.raises(gs.SpaceError, match=message):
        gs.new_session(space)
    r = cli("new", space)
    assert r.returncode == 1 and "Traceback" not in r.stderr and space in r.stderr, r.stderr
    assert gs.list_sessions() == []


def test_a_space_not_made_with_gradio(hub: Hub) -> None:
    with pytest.raises(gs.NotAGradioApp, match="runs streamlit, not Gradio"):
        gs.new_session("alice/streamlit")


def test_the_wait_has_a_bound(hub: Hub) -> None:
    r = cli("new", "alice/slowbuild", "--wait-timeout", "2")
    assert r.returncode == 1 and "still BUILDING after 2 s" in r.stderr and "--wait-timeout" in r.stderr, r.stderr


def test_a_private_space_with_the_users_token(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token from HF_TOKEN (what `hf auth login` users have) reaches the Hub; a given one too."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    s = gs.new_session("alice/secret")
    assert s.call("echo", "private") == ["private"]
    monkeypatch.delenv("HF_TOKEN")
    r = cli("new", "alice/secret", "--name", "given", "--token", TOKEN)
    assert r.returncode == 0, r.stderr
    hub_auths = {seen["auth"] for seen in hub() if seen["path"].startswith("/api/spaces/alice/secret")}
    assert f"Bearer {TOKEN}" in hub_auths and TOKEN not in r.stdout + r.stderr
    shown = json.loads(cli("show", "alice/secret", "--json").stdout)
    assert (shown["space"], shown["token"]) == ("alice/secret", "from HF_TOKEN")
    assert json.loads(cli("show", "given", "--json").stdout)["token"] == "given"
    r = cli("show", "alice/secret")
    assert "from HF_TOKEN" in r.stdout and TOKEN not in r.stdout and "(Space" in cli("list").stdout


def test_the_users_token_is_read_at_each_use_never_copied(hub: Hub, home: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A token from HF_TOKEN is not kept in the repository folder: each process reads it again."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    gs.new_session("alice/secret")
    assert TOKEN.encode() not in b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert cli("call", "echo", "again", "--session", "alice/secret").stdout == "again\n"


def test_the_hub_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import free_port

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    r = cli("new", "alice/awake")
    assert r.returncode == 1 and "Can't reach the Hub" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_zerogpu_quota_refusal_is_its_own_error() -> None:
    """ZeroGPU's "GPU quota" app error becomes QuotaExceeded with the time to wait; one CLI line."""
    with AppServer(APPS / "zerogpu_app.py") as app:
        s = gs.new_session(app.url, name="zerogpu")
        with pytest.raises(gs.QuotaExceeded) as caught:
            s.call("generate", "a cat")
        assert caught.value.retry_after == 9 * 60 + 48 and "46s left vs. 60s requested" in str(caught.value)
        r = cli("call", "generate", "a cat", "--session", "zerogpu")
        last = r.stderr.strip().splitlines()[-1]  # after the call's events
        assert r.returncode == 1 and last.startswith("Error: The Space's GPU quota is used up"), r.stderr
        assert "retry in 9 min 48 s" in last and "Traceback" not in r.stderr


def test_the_token_goes_to_the_hub_and_the_space_and_nowhere_else(hub: Hub, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's token reaches the Hub and the Space's own host (so a ZeroGPU quota is theirs),
    and not a second host that one of the Space's file URLs names."""
    from standin import FILE_BODY, standin
    from test_files import _filedata

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    space_seen: list[str | None] = []
    other_seen: list[str | None] = []
    with standin("result", other_seen, host="127.0.0.2") as other:
        remote = f"{other}/gradio_api/file=remote.txt"
        output = [{**_filedata(remote, "remote.txt"), "url": remote}]
        with standin("result", space_seen, output=output) as url:
            hub.add("alice/files", host=url, private=True, token=TOKEN)
            s = gs.new_session("alice/files", download_path=str(tmp_path / "dl"))
            (far,) = s.call("echo", "x")
    assert Path(far["path"]).read_bytes() == FILE_BODY
    assert space_seen and all(h == f"Bearer {TOKEN}" for h in space_seen)
    assert other_seen == [None]
    assert f"Bearer {TOKEN}" in {seen["auth"] for seen in hub() if "alice/files" in seen["path"]}


def test_a_space_that_fell_asleep_is_woken_by_the_next_call(hub: Hub) -> None:
    """The Space's app goes away after the session was made (it sleeps); the next call finds it
    gone, hears from the Hub that it sleeps, wakes it and waits, then is sent - once."""
    import threading

    from conftest import DEMO_APP, free_port

    port = free_port()
    woken: list[AppServer] = []
    waking = threading.Timer(2.0, lambda: woken.append(AppServer(DEMO_APP, port=port)))
    app = AppServer(DEMO_APP, port=port)
    hub.add("alice/napper", host=app.url, live=True)
    try:
        s = gs.new_session("alice/napper")
        assert s.call("echo", "before") == ["before"]
        app.stop()
        waking.start()  # the Space comes back a little after it is woken
        with pytest.warns(UserWarning, match="The Space alice/napper is SLEEPING: waking it up"):
            assert s.call("echo", "after") == ["after"]
        assert [c.status for c in s.calls()] == ["complete", "complete"]
    finally:
        app.stop()
        waking.cancel()
        if waking.is_alive():
            waking.join()
        for server in woken:
            server.stop()


def test_duplicate_a_space(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy goes to the token's account with the options asked; it is waited for while it
    builds, and a session is made on it."""
    import urllib.request

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    heard: list[str] = []
    s = gs.duplicate_space("alice/awake", hardware="t4-small", private=True, secrets={"API_KEY": "k1"},
                           on_stage=heard.append)
    assert (s.name, s.record.space) == ("tester/awake", "tester/awake") and s.call("echo", "copy") == ["copy"]
    assert heard == ["BUILDING", "APP_STARTING", "RUNNING"]
    with urllib.request.urlopen(f"{os.environ['HF_ENDPOINT']}/api/duplicates/tester/awake") as r:
        asked = json.load(r)
    assert asked["hardware"] == "t4-small" and asked["secrets"] == [{"key": "API_KEY", "value": "k1"}]
    assert asked.get("visibility", "private" if asked.get("private") else None) == "private"


def test_duplicate_from_the_cli(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    r = cli("duplicate", "alice/awake", "--to", "bob/copy")
    assert r.returncode == 1 and "needs a Hugging Face token" in r.stderr and "Traceback" not in r.stderr
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    r = cli("duplicate", "alice/awake", "--to", "bob/copy", "--secret", "A=1", "--sleep-time", "3600")
    assert r.returncode == 0 and "building" in r.stderr and "Duplicated alice/awake as bob/copy" in r.stdout, r.stderr
    assert cli("call", "echo", "c", "--session", "bob/copy").stdout == "c\n"
    r = cli("duplicate", "alice/awake", "--to", "bob/copy")
    assert r.returncode == 1 and "exists already" in r.stderr, r.stderr
    r = cli("duplicate", "alice/awake", "--secret", "novalue")
    assert r.returncode == 1 and "KEY=VALUE" in r.stderr
