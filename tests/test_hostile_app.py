"""What a hostile app can do (issue 23), played against real Gradio apps: every byte an app sends
is the attacker's. Its API can't write code into a generated module, its names can't run in a
shell through completion, its text can't drive the terminal; and a token or a secret never
needs the command line, where `ps` shows it."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import gradio_session as gs
from conftest import APPS, AppServer, cli, files_holding, json_lines, on_a_terminal
from gradio_session.codegen import module_source
from gradio_session.models import AppInfo, Endpoint, Parameter


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, APPS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hostile = _load("hostile_api_app")  # its texts; Gradio is imported only by the app's process
terminal = _load("terminal_app")
SESSION_CODE = 'code"""; __import__("pathlib").Path("session-ran").touch(); """'  # a session name that would run
URL_CODE = '/?q="""; __import__("pathlib").Path("url-ran").touch(); """'


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, str]]:
    """The hostile app, and the marker file its texts' code would touch."""
    marker = str(tmp_path_factory.mktemp("hostile") / "code-ran")
    with AppServer(APPS / "hostile_api_app.py", marker) as app:
        yield app, marker


# --- item 3: codegen writes an app's text as text, never as code ---------------------------------

REPORT = '''
import importlib, inspect, json, sys, typing
from gradio_session.codegen import Generated

m = importlib.import_module(sys.argv[1])
classes = [v for v in vars(m).values() if isinstance(v, type) and v.__module__ == m.__name__]
cls = next(c for c in classes if issubclass(c, Generated))
methods = {n: f for n, f in vars(cls).items() if inspect.isfunction(f)}
shadow = list(inspect.signature(methods["shadow"]).parameters.values())[1:]  # after self
print(json.dumps({
    "module": m.__doc__, "class": cls.__doc__, "class_name": cls.__name__, "api": list(cls.API),
    "own": sorted(vars(cls)), "methods": list(methods), "docs": [inspect.getdoc(f) for f in methods.values()],
    "results": [c.__doc__ for c in classes if issubclass(c, tuple)],
    "shadow": {p.name: repr(p.default) for p in shadow},
    "choices": list(typing.get_args(typing.get_type_hints(methods["shadow"])["choice"])),
}))
'''


def _imported(folder: Path, module: str) -> dict:  # type: ignore[type-arg]
    """Import a generated module in a fresh Python, in `folder`: what it holds."""
    r = subprocess.run([sys.executable, "-c", REPORT, module], capture_output=True, text=True, cwd=folder,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def _check_module(report: dict, marker: str, folder: Path, *, url: str, session: str) -> None:  # type: ignore[type-arg]
    """Nothing ran; every docstring shows the app's text as it is; names are safe identifiers."""
    assert not Path(marker).exists() and not list(folder.glob("*-ran"))
    texts, names = hostile.texts(marker), hostile.names(marker)
    assert report["module"].startswith(f"Typed functions for the Gradio app at {url} (session {session!r}).\n")
    assert report["class"] == (f"The endpoints of {url}: `{report['class_name']}()` uses the session "
                               f"{session!r}, or pass another.")
    assert report["results"] == [f"What /{texts[0]} returns."]
    assert report["api"] == [f"/{name}" for name in names] + ["/shadow"]  # the app's names, exactly
    docs = report["docs"]
    for i, doc in enumerate(docs[:len(names)]):
        assert doc.startswith(hostile.description(marker, i) + "\n\nParameters:\n"), (i, doc)
        assert f"Textbox {texts[0]!r}." in doc and f"Default: {texts[2]!r}." in doc
    assert f"Dropdown {texts[3]!r}." in docs[-1] and f"One of {hostile.choices(marker)!r}." in docs[-1]
    assert report["choices"] == hostile.choices(marker)
    # names: identifiers, no dunder, none of the base's members taken over
    assert all(n.isidentifier() and not n.startswith("__") for n in report["methods"])
    assert {"__init__", "__class__", "_call", "session", "API"} & set(report["methods"]) == set()
    assert {"__init__", "__class__", "_call", "session"} & set(report["own"]) == set()
    assert report["shadow"] == {"cast_2": "<class 'inspect._empty'>", "self_2": "<class 'inspect._empty'>",
                                "choice": repr(texts[0]), "number": "inf", "number2": "nan"}


def test_codegen_through_the_cli_writes_the_apps_text_never_its_code(hostile_app: tuple[AppServer, str],
                                                                     tmp_path: Path) -> None:
    """Endpoint names, labels, descriptions, choices and defaults that close a docstring or a
    string (`\"\"\"`, `'''`, a backslash, a trailing quote, NUL, CR, ESC, a bidi override), an
    endpoint named `__init__` (also in fullwidth letters, which Python reads as `__init__`),
    `_call` or `session`, parameters named `cast` and `self`, and `Infinity`/`NaN` defaults."""
    app, marker = hostile_app
    assert cli("new", app.url, "--name", SESSION_CODE).returncode == 0
    r = cli("codegen", "--session", SESSION_CODE, "-o", str(tmp_path / "hostile_cli.py"))
    assert r.returncode == 0, r.stderr
    _check_module(_imported(tmp_path, "hostile_cli"), marker, tmp_path, url=app.url, session=SESSION_CODE)


def test_codegen_in_python_writes_the_apps_text_never_its_code(hostile_app: tuple[AppServer, str],
                                                               tmp_path: Path) -> None:
    """`module_source`: first for the app's first endpoint alone, whose name would close its
    result's docstring (without the NUL bytes of the others, a module that let it out would
    import, and run it); then for all, with a session name and an app URL that would run code too."""
    app, marker = hostile_app
    s = gs.new_session(app.url, name="hostile")
    first = next(iter(s.app.endpoints))
    one = dataclasses.replace(s.app, endpoints={first: s.app.endpoints[first]})
    (tmp_path / "hostile_one.py").write_text(module_source("hostile", app.url, one))
    r = subprocess.run([sys.executable, "-c", "import hostile_one"], capture_output=True, text=True, cwd=tmp_path,
                       timeout=120)
    assert not Path(marker).exists() and not list(tmp_path.glob("*-ran")) and r.returncode == 0, r.stderr
    (tmp_path / "hostile_py.py").write_text(module_source(SESSION_CODE, app.url + URL_CODE, s.app, "Hostile"))
    report = _imported(tmp_path, "hostile_py")
    assert report["class_name"] == "Hostile"
    _check_module(report, marker, tmp_path, url=app.url + URL_CODE, session=SESSION_CODE)


def test_values_that_are_not_plain_json_are_never_written_with_their_repr() -> None:
    """No server can send these (JSON has no such values): an API built in Python. A default of
    another type, or nested deeper than Python's parser goes, is refused; a choice that can't be
    a Literal leaves the plain type."""
    class Sneaky(str):
        def __repr__(self) -> str:
            return "__import__('os').system('exit 1')"

    deep: list = []  # type: ignore[type-arg]
    for _ in range(60):
        deep = [deep]
    for default in (Sneaky("x"), object(), deep):
        ep = Endpoint(name="/e", parameters=(Parameter(name="a", schema={}, has_default=True, default=default),))
        with pytest.raises(gs.ParameterError, match="can't be written as Python source"):
            module_source("s", "http://h", AppInfo(endpoints={"/e": ep}))
    ep = Endpoint(name="/e", parameters=(Parameter(name="a", schema={"type": "string", "enum": [Sneaky("x"), "y"]}),
                                         Parameter(name="b", schema={"type": "number", "enum": [0.5, 1.5]})))
    source = module_source("s", "http://h", AppInfo(endpoints={"/e": ep}))
    assert "def e(self, a: str, b: float) -> None:" in source
    assert "__import__" not in {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}  # docs only


# --- item 6: completion offers only names that are plain shell words -----------------------------

def _complete(words: str) -> list[str]:
    """What click's bash completion offers for the command line `words` (the cursor at its end)."""
    env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1),
           "_GRADIO_SESSION_COMPLETE": "bash_complete"}
    r = subprocess.run([sys.executable, "-m", "gradio_session"], capture_output=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return [line.decode().partition(",")[2] for line in r.stdout.split(b"\n") if line]  # bytes: a CR stays


def test_completion_never_offers_a_name_a_shell_would_run(hostile_app: tuple[AppServer, str]) -> None:
    """`translate$(touch pwned)` would run when completed and entered; names with quotes,
    spaces, newlines, `;`, a NUL or ESC are not offered either. Session names alike."""
    app, _ = hostile_app
    for name in ("hostile", "evil$(touch pwned)"):
        assert cli("new", app.url, "--name", name).returncode == 0
    offered = _complete("gradio-session call -s hostile ")
    assert sorted(offered) == sorted(["__init__", "__class__", "_call", "session", "API", "__\uff49nit__", "shadow"])
    assert _complete("gradio-session call -s hostile tr") == []
    assert _complete("gradio-session show ") == ["hostile"]
    assert _complete("gradio-session call --session ev") == []


# --- item 8: an app's text never drives the terminal ---------------------------------------------

RAW = [b"\x1b]0;pwned", b"\x1b[2J", "\u202e".encode(), "\x9b".encode()]  # a title, a clear screen, bidi, C1 CSI


def on_terminals(*args: str) -> tuple[int, bytes]:
    """Run `gradio-session ARGS` with stdout and stderr on one terminal (a pty, 200 columns wide):
    the exit status and every byte the terminal was sent."""
    r, screen = on_a_terminal(*args, env={"COLUMNS": "200"}, stdout_too=True)
    return r.returncode, screen.encode()


@pytest.fixture(scope="module")
def terminal_app() -> Iterator[AppServer]:
    with AppServer(APPS / "terminal_app.py") as app:
        yield app


def test_an_apps_text_never_drives_the_terminal(terminal_app: AppServer) -> None:
    """Results, errors, warnings, progress, labels, descriptions and endpoint names with a window
    title, a clear screen, a bidi override, a C1 CSI and Rich markup (with a closing tag nobody
    opened): on a terminal each is shown escaped, never obeyed nor read as markup."""
    assert cli("new", terminal_app.url, "--name", "term").returncode == 0
    problems: list[tuple[object, ...]] = []
    shown, odd = b"\\x1b]0;pwned\\x07 \\x1b[2J clear \\u202eevil\\u202c", b"odd\\x1b[2J[/bold]"
    for args, status, visible in ((("call", "say", "hi"), 0, [shown, b"[bold red]markup[/bold red] [/oops]"]),
                                  (("call", "fail", "hi"), 1, [shown]), (("api",), 0, [shown, odd]),
                                  (("call", terminal.ODD, "hi"), 0, []), (("calls",), 0, [odd])):
        code, screen = on_terminals(*args, "--session", "term")
        problems += [(args[:2], "raw", raw) for raw in RAW if raw in screen]
        problems += [(args[:2], "not shown", text) for text in visible if text not in screen]
        problems += [(args[:2], "exit", code, screen[-300:])] if code != status else []
    assert problems == []


def test_json_and_pipes_keep_the_apps_text_exactly(terminal_app: AppServer) -> None:
    """Data for programs is the app's data: `--json` (JSON escapes, the same text once parsed),
    and plain output into a pipe."""
    assert cli("new", terminal_app.url, "--name", "piped").returncode == 0
    r = cli("call", "say", "hi", "--session", "piped", "--json")
    events = json_lines(r.stdout)
    assert r.returncode == 0 and events[-1]["data"] == [terminal.TEXT + "hi"], r.stderr
    assert {"level": "warning", "message": terminal.TEXT} in [{k: e["data"].get(k) for k in ("level", "message")}
                                                     for e in events if e["event"] == "log"]
    r = cli("call", "say", "hi", "--session", "piped")
    assert r.returncode == 0 and r.stdout == terminal.TEXT + "hi\n"


# --- item 7: tokens and secrets never need the command line --------------------------------------

TOKEN = "gs-test-token-from-stdin-41"
ENV_TOKEN = "gs-test-token-from-env-42"


def gradio_session(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`gradio-session ARGS` with `stdin` on its standard input; its argv is checked by the caller."""
    return subprocess.run([sys.executable, "-m", "gradio_session", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_a_token_from_stdin_or_the_environment(tmp_path: Path, home: Path) -> None:
    """`new --token-stdin` reads the token from stdin, GRADIO_SESSION_TOKEN from the
    environment: the app gets it, and it is in no argv, no output, not in sessions.db."""
    log = tmp_path / "authorization.log"
    with AppServer(APPS / "header_log_app.py", str(log)) as app:
        args = ("new", app.url, "--name", "piped", "--token-stdin")
        r = gradio_session(*args, stdin=TOKEN + "\n")
        assert r.returncode == 0, r.stderr
        assert TOKEN not in " ".join(args) and TOKEN not in r.stdout + r.stderr
        assert f"Bearer {TOKEN}" in log.read_text().splitlines()
        r = gradio_session("call", "echo", "again", "--session", "piped")
        assert r.stdout == "again\n" and log.read_text().splitlines()[-1] == f"Bearer {TOKEN}"
        r = gradio_session("new", app.url, "--name", "from-env", env={"GRADIO_SESSION_TOKEN": ENV_TOKEN})
        assert r.returncode == 0 and ENV_TOKEN not in r.stdout + r.stderr, r.stderr
        assert f"Bearer {ENV_TOKEN}" in log.read_text().splitlines()
        r = gradio_session("new", app.url, "--name", "nothing", "--token-stdin", stdin="\n")
        assert r.returncode == 1 and "--token-stdin read nothing from standard input" in r.stderr
        r = gradio_session("new", app.url, "--name", "twice", "--token", "x", "--token-stdin", stdin=TOKEN)
        assert r.returncode == 1 and "Give the token once" in r.stderr and TOKEN not in r.stderr
    for token in (TOKEN, ENV_TOKEN):  # in a 0600 token file, never in SQLite, its journals or a log
        assert all(f.startswith("tokens/") for f in files_holding(home, token)), files_holding(home, token)
        assert files_holding(home, token)
    for command in ("new", "duplicate"):
        shown = gradio_session(command, "--help").stdout
        assert "--token-stdin" in shown and "`ps`" in shown and "GRADIO_SESSION_TOKEN" in shown


HUB_TOKEN = "hf_testtoken123456"


def test_duplicate_takes_secrets_from_the_environment_and_stdin(demo_app: AppServer, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`--secret KEY` takes the environment variable KEY, `--secret-stdin KEY` a line of stdin,
    `--token-stdin` the Hub token: the Hub (its stand-in, tests/hub_standin.py) gets each, no
    argv holds one, no output repeats one."""
    from test_spaces import serving_hub

    with serving_hub({"alice/awake": {"host": demo_app.url}}, tmp_path, monkeypatch) as hub:
        args = ("duplicate", "alice/awake", "--to", "bob/copy", "--secret", "API_KEY", "--secret-stdin", "OTHER")
        r = gradio_session(*args, stdin="stdin-secret-value\n",
                           env={"HF_TOKEN": HUB_TOKEN, "API_KEY": "env-secret-value"})
        assert r.returncode == 0, r.stderr
        with urllib.request.urlopen(f"{os.environ['HF_ENDPOINT']}/api/duplicates/bob/copy") as answer:
            asked = json.load(answer)
        assert asked["secrets"] == [{"key": "API_KEY", "value": "env-secret-value"},
                                    {"key": "OTHER", "value": "stdin-secret-value"}]
        seen = r.stdout + r.stderr
        assert not [v for v in ("env-secret-value", "stdin-secret-value") if v in " ".join(args) or v in seen]
        args = ("duplicate", "alice/awake", "--to", "bob/other", "--token-stdin")
        r = gradio_session(*args, stdin=HUB_TOKEN + "\n")
        assert r.returncode == 0 and HUB_TOKEN not in r.stdout + r.stderr, r.stderr
        assert f"Bearer {HUB_TOKEN}" in {s["auth"] for s in hub() if s["path"].startswith("/api/spaces/alice/awake")}
        r = gradio_session("duplicate", "alice/awake", "--to", "bob/third", "--secret", "NOT_SET_ANYWHERE",
                           env={"HF_TOKEN": HUB_TOKEN})
        assert r.returncode == 1 and "NOT_SET_ANYWHERE" in r.stderr and "--secret-stdin" in r.stderr, r.stderr
        r = gradio_session("duplicate", "alice/awake", "--token-stdin", "--secret-stdin", "A", stdin=HUB_TOKEN)
        assert r.returncode == 1 and "one value" in r.stderr and HUB_TOKEN not in r.stderr
