"""The `gradio-session` command, run as a real process against a real Gradio app."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from conftest import AppServer, cli, free_port, json_lines


def ok(*args: str) -> str:
    r = cli(*args)
    assert r.returncode == 0, f"{args}: {r.stderr}"
    return r.stdout


def fails(*args: str, match: str, code: int = 1) -> str:
    """A failing command: exit 1 (2 for usage errors), a clear message on stderr, no traceback."""
    r = cli(*args)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert match in r.stderr, r.stderr
    return r.stderr


def test_session_lifecycle(demo_app: AppServer, tmp_path: Path) -> None:
    created = json.loads(ok("new", demo_app.url, "--json"))
    name = f"127.0.0.1:{demo_app.port}"
    assert created["name"] == name and created["default"] is True
    ok("new", demo_app.url, "--name", "second", "--download-path", str(tmp_path))
    sessions = json.loads(ok("list", "--json"))
    assert [s["name"] for s in sessions] == [name, "second"]
    assert [s["default"] for s in sessions] == [True, False]
    shown = json.loads(ok("show", "second", "--json"))
    assert {"name", "id", "app_url", "api_url", "default", "download_path"} <= set(shown)
    assert shown["download_path"] == str(tmp_path.resolve())
    assert shown["api_url"] == demo_app.url + "/gradio_api"
    ok("use", "second")
    assert json.loads(ok("show", "--json"))["name"] == "second"
    assert json.loads(ok("show", shown["id"], "--json"))["name"] == "second"
    assert "second" in ok("list")  # human table
    ok("remove", "second")
    assert [s["name"] for s in json.loads(ok("list", "--json"))] == [name]
    assert json.loads(ok("show", ".", "--json"))["default"] is True


def test_set_options(demo_app: AppServer) -> None:
    ok("new", demo_app.url, "--name", "x")
    shown = json.loads(ok("set", "x", "--max-calls", "5", "--max-calls-policy", "warning", "--json"))
    assert (shown["max_calls"], shown["max_calls_policy"]) == (5, "warning")
    fails("set", "x", "--max-calls-policy", "sometimes", match="'sometimes' is not one of", code=2)


def test_max_calls_policies(demo_app: AppServer) -> None:
    ok("new", demo_app.url, "--name", "m")
    ok("set", "m", "--max-calls", "1")
    ok("call", "echo", "a")
    fails("call", "echo", "b", match="max_calls is 1")
    ok("set", "m", "--max-calls-policy", "warning")
    r = cli("call", "echo", "c")
    assert r.returncode == 0 and "Warning:" in r.stderr
    ok("set", "m", "--max-calls-policy", "remove")
    ok("call", "echo", "d")
    assert [c["inputs"][0] for c in json.loads(ok("calls", "--json"))] == ["d"]


def test_api(demo_app: AppServer) -> None:
    ok("new", demo_app.url)
    endpoints = json.loads(ok("api", "--json"))
    echo = next(e for e in endpoints if e["name"] == "/echo")
    assert [p["name"] for p in echo["parameters"]] == ["text", "times"]
    times = echo["parameters"][1]
    assert (times["type"], times["default"], times["component"], times["label"]) == ("float", 1, "Number", "Times")
    assert echo["returns"][0]["component"] == "Textbox"
    human = ok("api", "echo")
    assert "times" in human and "Number" in human
    fails("api", "ecko", match="Did you mean /echo")


def test_call_values_and_conversion(demo_app: AppServer) -> None:
    ok("new", demo_app.url)
    assert ok("call", "echo", "ab", "2") == "abab\n"
    assert ok("call", "/echo", "text=a=b") == "a=b\n"
    assert ok("call", "echo", "hi", "times=3") == "hihihi\n"
    assert ok("call", "add", "1.5", "2") == "3.5\n"
    assert ok("call", "choose", "yes", '["x","y"]') == "on: x, y\n"
    assert ok("call", "choose", "flag=0") == "off: \n"
    lines = json_lines(ok("call", "echo", "q", "--json"))
    assert lines[-1] == {**lines[-1], "event": "complete", "data": ["q"]}


def test_call_errors(demo_app: AppServer) -> None:
    ok("new", demo_app.url)
    fails("call", "ecko", "x", match="Did you mean /echo")
    fails("call", "echo", "txt=x", match="no parameter 'txt'")
    fails("call", "echo", "a", "1", "2", match="takes 2 value")
    fails("call", "echo", "a", "many", match="'many' is not a valid number")
    fails("call", "choose", "maybe", match="not a valid boolean")
    fails("call", "choose", "1", "{bad json", match="not a valid array")
    fails("call", "fail", "zz", match="cannot process 'zz'")
    fails("call", "echo", "x", "--session", "nope", match="No session named 'nope'")
    calls = json.loads(ok("calls", "--json"))
    assert [(c["endpoint"], c["status"]) for c in calls] == [("/fail", "error")]
    assert {"event_id", "endpoint", "status", "started_at"} <= set(calls[0])


def test_session_errors(demo_app: AppServer) -> None:
    fails("show", match="no sessions yet")
    fails("new", f"http://127.0.0.1:{free_port()}", match="Can't reach")
    fails("new", demo_app.url + "/nothing-here", match="does not look like a Gradio app")
    ok("new", demo_app.url, "--name", "dup")
    fails("new", demo_app.url, "--name", "dup", match="exists already")
    ok("new", demo_app.url, "--name", "dup", "--force")
    fails("remove", "nope*", match="No session matches")
    fails("use", "nope", match="No session named")
    assert len(json.loads(ok("list", "--json"))) == 1


def test_token_is_never_stored_or_printed(demo_app: AppServer, home: Path) -> None:
    secret = "hf_TOPSECRETtoken1234567890"
    r = cli("new", demo_app.url, "--token", secret, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["has_token"] is True
    outputs = [r.stdout + r.stderr]
    for args in (("list", "--json"), ("show", "--json"), ("call", "echo", "x", "--json"), ("calls", "--json"),
                 ("show",), ("list",)):
        r = cli(*args)
        assert r.returncode == 0, r.stderr
        outputs.append(r.stdout + r.stderr)
    assert not any(secret in out for out in outputs)
    for path in home.rglob("*"):
        if path.is_file() and path.parent.name != "tokens":
            assert secret.encode() not in path.read_bytes(), path
    (token_file,) = (home / "tokens").iterdir()
    assert json.loads(token_file.read_text())["token"] == secret
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "tokens").stat().st_mode) == 0o700
    ok("remove", "*")
    assert list((home / "tokens").iterdir()) == []


_IMPORTS_AT_EXIT = """
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "gradio-session"
from gradio_session.cli.client import main
main()
"""


def imported_by(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules a `gradio-session ARGS` process had imported when it exited."""
    import subprocess
    import sys

    out = tmp_path / "modules.json"
    r = subprocess.run([sys.executable, "-c", _IMPORTS_AT_EXIT, str(out), *args], capture_output=True,
                       text=True, env={**os.environ, **(env or {})}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return set(json.loads(out.read_text()))


def test_what_the_start_up_path_imports(demo_app: AppServer, home: Path, tmp_path: Path) -> None:
    """`--help` loads click and no HTTP machinery; `call --json` neither pydantic nor Rich (its
    live display is for terminals); a call a CLI server runs costs its client only the stdlib."""
    heavy = {"pydantic", "typer", "rich", "rich.live", "rich.progress"}
    helped = imported_by(tmp_path, "--help")
    assert not helped & (heavy | {"httpx", "sqlite3", "asyncio", "gradio_session.models"})
    ok("new", demo_app.url, "--name", "imports")
    alone = imported_by(tmp_path, "call", "echo", "x", "--json", env={"GRADIO_SESSION_SERVER": "0"})
    assert "httpx" in alone and not alone & heavy
    assert not alone & {"pygments", "filelock"}  # httpx's own CLI loads pygments; filelock is for Windows
    for _ in range(2):  # two cold calls in a row start this directory's server
        imported_by(tmp_path, "call", "echo", "x", "--json")
    from conftest import wait_for

    wait_for(lambda: list((home / "run").glob("*.pid")))
    served = imported_by(tmp_path, "call", "echo", "x", "--json")
    assert not served & (heavy | {"httpx", "asyncio", "click", "sqlite3", "gradio_session.models"})


@pytest.mark.parametrize("args", [("call",), ("new",), ("bogus",)])
def test_usage_errors_exit_nonzero(args: tuple[str, ...]) -> None:
    r = cli(*args)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_shell_completion_knows_sessions_and_endpoints(demo_app: AppServer) -> None:
    ok("new", demo_app.url, "--name", "done")

    def complete(words: str) -> list[str]:
        env = {"COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1),
               "_GRADIO_SESSION_COMPLETE": "bash_complete"}
        r = cli(env=env)
        assert r.returncode == 0, r.stderr
        return [line.split(",", 1)[1] for line in r.stdout.splitlines()]

    assert complete("gradio-session ca") == ["call", "calls", "cancel"]
    assert complete("gradio-session show d") == ["done"]
    assert complete("gradio-session call -s done ec") == ["echo"]
    assert complete("gradio-session call st") == ["stream", "steps"]


def test_the_cli_spells_the_models_choices() -> None:
    """`--help` lists call statuses and max_calls policies without importing the models: the
    CLI's copies must stay the models' own values."""
    from typing import get_args

    from gradio_session.cli.common import POLICIES, STATUSES
    from gradio_session.models import CallStatus, MaxCallsPolicy

    assert (STATUSES, POLICIES) == (get_args(CallStatus), get_args(MaxCallsPolicy))
