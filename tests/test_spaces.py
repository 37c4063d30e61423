"""Hugging Face Spaces through a Hub stand-in (`hub_standin.py`, found through HF_ENDPOINT) whose
Spaces are served by a real local Gradio app: found by id, woken, waited for, refused clearly."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import gradio_session as gs
from conftest import APPS, AppServer, cli, free_port, on_a_terminal

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
        "alice/rebuilding": {"host": demo_app.url, "stages": ["RUNNING_BUILDING"]},
        "alice/crashed": {"host": demo_app.url, "stages": ["RUNTIME_ERROR"], "error": "CUDA out of memory"},
        "alice/misconfigured": {"host": demo_app.url, "stages": ["CONFIG_ERROR"], "error": "app_file is missing"},
        "alice/empty": {"host": demo_app.url, "stages": ["NO_APP_FILE"]},
        "alice/stopped": {"host": demo_app.url, "held": "STOPPED"},
        "tester/stopped": {"host": demo_app.url, "held": "STOPPED", "stages": ["APP_STARTING", "RUNNING"]},
        "testers/stopped": {"host": demo_app.url, "held": "STOPPED", "stages": ["APP_STARTING", "RUNNING"]},
        "tester/deepsleep": {"host": demo_app.url, "held": "SLEEPING", "stages": ["APP_STARTING", "RUNNING"]},
        "my-org/cool-app": {"host": demo_app.url},
        "alice/fragile": {"host": demo_app.url, "copy_stages": ["BUILDING", "BUILD_ERROR"],
                          "error": "no CUDA on cpu-basic"},
        "alice/proxyless": {"host": f"http://127.0.0.1:{free_port()}"},
    }
    with serving_hub(spaces, tmp_path, monkeypatch) as standin:
        yield standin


@contextmanager
def serving_hub(spaces: dict[str, dict], folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    """The stand-in serving `spaces`, selected through HF_ENDPOINT; no token of this machine."""
    spec, seen = folder / "spaces.json", folder / "seen.jsonl"
    spec.write_text(json.dumps(spaces))
    seen.touch()
    with AppServer(STANDIN, str(spec), str(seen), ready="/ready") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setenv("HF_HOME", str(folder / "hf-home"))  # no saved login of this machine
        yield Hub(spec, seen)


def test_a_space_by_id_and_by_its_page(hub: Hub) -> None:
    s = gs.new_session("alice/awake")
    assert s.name == "alice/awake" and s.call("echo", "hi") == ["hi"]
    page = gs.new_session(f"{os.environ['HF_ENDPOINT']}/spaces/alice/awake", name="by-page")
    assert page.record.app_url == s.record.app_url and page.call("add", 1, 2) == [3]


def test_a_space_by_its_own_host(hub: Hub) -> None:
    """`https://owner-name.hf.space` is the Space `owner/name`, also when the owner's name has a
    hyphen: the Hub is asked which split is the one served there."""
    s = gs.new_session("https://my-org-cool-app.hf.space/")
    assert (s.name, s.record.space) == ("my-org/cool-app", "my-org/cool-app") and s.call("echo", "h") == ["h"]
    r = cli("new", "https://alice-awake.hf.space", "--name", "by-host")
    assert r.returncode == 0 and json.loads(cli("show", "by-host", "--json").stdout)["space"] == "alice/awake"
    r = cli("new", "https://alice-nothing.hf.space")
    assert r.returncode == 1 and "No Space that you can see is served at https://alice-nothing.hf.space" in r.stderr


def test_show_asks_the_hub_how_the_space_is_now(hub: Hub, demo_app: AppServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert gs.new_session(demo_app.url, name="not-a-space").space_runtime() is None
    assert "space_runtime" not in json.loads(cli("show", "not-a-space", "--json").stdout)
    gs.new_session("alice/awake")
    shown = json.loads(cli("show", "alice/awake", "--json").stdout)["space_runtime"]
    assert (shown["stage"], shown["hardware"]) == ("RUNNING", "cpu-basic")
    assert "RUNNING on cpu-basic" in cli("show", "alice/awake").stdout
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # the Hub gone: the rest still shows
    r = cli("show", "alice/awake")
    assert r.returncode == 0 and "Can't reach the Hub" in r.stdout and "alice/awake" in r.stdout, r.stderr
    with pytest.raises(gs.ConnectError, match="Can't reach the Hub"):
        gs.get_session("alice/awake").space_runtime()


def test_a_notebook_shows_a_spaces_stage(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a notebook shows of a Space's session (the HTML its kernel is given): the Space and
    its stage as the Hub says now, or that the stage is unknown when the Hub can't be asked."""
    from gradio_session.notebook import render

    s = gs.new_session("alice/awake")
    assert "Space <code>alice/awake</code> (stage RUNNING)" in render.session_html(s)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # the Hub gone
    assert "Space <code>alice/awake</code> (stage unknown)" in render.session_html(s)


def test_a_sleeping_space_is_woken_and_waited_for(hub: Hub) -> None:
    heard: list[str] = []
    s = gs.new_session("alice/sleepy", on_stage=heard.append)
    assert heard == ["SLEEPING", "APP_STARTING", "RUNNING"] and s.call("echo", "up") == ["up"]


def test_a_space_running_while_it_rebuilds_is_used(hub: Hub) -> None:
    heard: list[str] = []
    assert gs.new_session("alice/rebuilding", on_stage=heard.append).call("echo", "b") == ["b"]
    assert heard == ["RUNNING_BUILDING"]
    r = cli("new", "alice/rebuilding", "--name", "rebuilding")
    assert r.returncode == 0 and "running (a new build is under way)" in r.stderr, r.stderr


def test_a_stopped_space_is_restarted_by_its_owner(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """A visit does not wake a STOPPED Space: its owner's token restarts it through the Hub (the
    user's own Space, or their organisation's); anyone else's is waited for, then refused."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    heard: list[str] = []
    s = gs.new_session("tester/stopped", on_stage=heard.append)
    assert heard == ["STOPPED", "APP_STARTING", "RUNNING"] and s.call("echo", "up") == ["up"]
    r = cli("new", "testers/stopped")
    assert r.returncode == 0 and "stopped, waking it up" in r.stderr and "starting" in r.stderr, r.stderr
    restarts = [seen for seen in hub() if seen["path"].endswith("/restart")]
    assert [seen["path"] for seen in restarts] == ["/api/spaces/tester/stopped/restart",
                                                    "/api/spaces/testers/stopped/restart"]
    assert all(seen["auth"] == f"Bearer {TOKEN}" for seen in restarts)
    r = cli("new", "alice/stopped", "--wait-timeout", "2")
    assert r.returncode == 1 and "still STOPPED after 2 s" in r.stderr and "Only its owner can restart it" in r.stderr
    assert not any(seen["path"] == "/api/spaces/alice/stopped/restart" for seen in hub())


def test_a_space_that_a_visit_does_not_wake_is_restarted_by_its_owner(hub: Hub,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from gradio_session.core import spaces

    monkeypatch.setattr(spaces, "RESTART_AFTER", 1.0)  # the real wait is half a minute
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    heard: list[str] = []
    assert gs.new_session("tester/deepsleep", on_stage=heard.append).call("echo", "z") == ["z"]
    assert heard == ["SLEEPING", "APP_STARTING", "RUNNING"]
    assert any(seen["path"] == "/api/spaces/tester/deepsleep/restart" for seen in hub())


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


def test_on_a_terminal_the_stages_are_one_status_line(hub: Hub) -> None:
    """stderr a terminal: one line, rewritten at each stage, with the time waited; gone at the end."""
    r, shown = on_a_terminal("new", "alice/sleepy")
    assert r.returncode == 0 and "Created session alice/sleepy" in r.stdout, shown
    assert "The Space is asleep, waking it up..." in shown and "The Space is starting..." in shown
    assert "0:00:0" in shown and "\x1b[" in shown  # Rich's elapsed time, and its rewriting of the line


@pytest.mark.parametrize("space, message", [
    ("alice/broken", r"BUILD_ERROR: pip install failed: no matching distribution .* See http://.*/spaces/alice/broken"),
    ("alice/paused", r"is PAUSED"),
    ("alice/crashed", r"is RUNTIME_ERROR: CUDA out of memory"),
    ("alice/misconfigured", r"is CONFIG_ERROR: app_file is missing"),
    ("alice/empty", r"is NO_APP_FILE: no message from the Hub"),
    ("alice/proxyless", r"The Hub says the Space alice/proxyless runs, but its app does not answer through the "
                        r"Space's proxy: .* try again in a minute"),
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


def test_a_bad_token(hub: Hub) -> None:
    with pytest.raises(gs.SpaceError, match=r"The Hub refused the token for the Space alice/awake \(HTTP 401\): "
                                            r"log in again with `hf auth login`, or pass another --token"):
        gs.new_session("alice/awake", token="hf_bad_expired")
    r = cli("new", "alice/awake", "--token", "hf_bad_expired")
    assert r.returncode == 1 and "refused the token" in r.stderr and "hf_bad_expired" not in r.stderr + r.stdout


def test_the_hub_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
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
    """The Space's app goes away after the session was made (it sleeps); the next call (Python,
    then the CLI) finds it gone, hears from the Hub that it sleeps, wakes it and waits, then is
    sent - once."""
    import threading

    from conftest import DEMO_APP

    port = free_port()
    servers = [AppServer(DEMO_APP, port=port)]
    hub.add("alice/napper", host=servers[0].url, live=True)
    try:
        s = gs.new_session("alice/napper")
        assert s.call("echo", "before") == ["before"]
        for caller in ("python", "cli"):
            servers[-1].stop()
            waking = threading.Timer(2.0, lambda: servers.append(AppServer(DEMO_APP, port=port)))
            waking.start()  # the Space comes back a little after it is woken
            try:
                if caller == "python":
                    with pytest.warns(UserWarning, match="The Space alice/napper is SLEEPING: waking it up"):
                        assert s.call("echo", "after") == ["after"]
                else:
                    r = cli("call", "echo", "again", "--session", "alice/napper")
                    assert r.stdout == "again\n" and "SLEEPING: waking it up" in r.stderr, r.stderr
            finally:
                waking.join()
        assert [c.status for c in s.calls()] == ["complete"] * 3
    finally:
        for server in servers:
            server.stop()


def test_a_space_paused_after_the_session_was_made(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its owner paused it (huggingface_hub's `pause_space`, the stand-in's `/pause`): a call
    says so, with the Hub's word, instead of a connection error."""
    from huggingface_hub import HfApi

    from conftest import DEMO_APP

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with AppServer(DEMO_APP) as app:
        hub.add("tester/pausable", host=app.url)
        s = gs.new_session("tester/pausable")
        assert s.call("echo", "a") == ["a"]
        HfApi(endpoint=os.environ["HF_ENDPOINT"]).pause_space("tester/pausable", token=TOKEN)
    with pytest.raises(gs.SpaceError, match="The Space tester/pausable is PAUSED"):
        s.call("echo", "b")
    r = cli("call", "echo", "b", "--session", "tester/pausable")
    assert r.returncode == 1 and "is PAUSED" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "waking" not in r.stderr


def test_duplicate_a_space(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy goes to the token's account with the options asked; it is waited for while it
    builds, and a session is made on it."""
    import urllib.request

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    heard: list[str] = []
    s = gs.duplicate_space("alice/awake", hardware="t4-small", private=True, secrets={"API_KEY": "k1"},
                           on_stage=heard.append)
    assert (s.name, s.record.space) == ("tester/awake", "tester/awake") and s.call("echo", "copy") == ["copy"]
    assert heard == ["BUILDING", "APP_STARTING", "RUNNING"] and s.space_runtime()["hardware"] == "t4-small"
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
    assert "RUNNING on cpu-basic (sleeps after 1 h idle)" in cli("show", "bob/copy").stdout
    r = cli("duplicate", "alice/awake", "--to", "bob/copy")
    assert r.returncode == 1 and "exists already" in r.stderr, r.stderr
    r = cli("duplicate", "alice/awake", "--secret", "novalue")
    assert r.returncode == 1 and "KEY=VALUE" in r.stderr


def test_a_copy_that_fails_to_build_is_still_named(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with pytest.raises(gs.SpaceError, match=r"tester/fragile is BUILD_ERROR: no CUDA on cpu-basic.* \(The copy "
                                            r"tester/fragile was made: it is on the Hub, without a session.\)"):
        gs.duplicate_space("alice/fragile")
    r = cli("duplicate", "alice/fragile", "--to", "bob/fragile")
    assert r.returncode == 1 and "The copy bob/fragile was made" in r.stderr and "Traceback" not in r.stderr
    assert gs.list_sessions() == []
