"""The README's examples run, against the demo app, so they can't rot."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import APPS, ROOT, AppServer

README = (ROOT / "README.md").read_text()
DOC_URL = "http://127.0.0.1:7860"
SPACES = "## Hugging Face Spaces\n"  # its examples run against a Hub stand-in, the rest against the demo app
SPACES_TEXT = README[README.index(SPACES):README.index("\n## ", README.index(SPACES) + 1)]
DOC_SPACE = "gradio/hello_world"
NETWORK = "## Behind logins, proxies and private CAs\n"  # its examples run against the demo app behind a login
NETWORK_TEXT = README[README.index(NETWORK):README.index("\n## ", README.index(NETWORK) + 1)]
LOGIN_URL, PROXY_URL = "http://127.0.0.1:7861", "http://127.0.0.1:3128"


def blocks(lang: str, text: str = README.replace(SPACES_TEXT, "").replace(NETWORK_TEXT, "")) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_readme_opens_with_the_two_commands() -> None:
    first = blocks("console")[0]
    assert "make demo" in first and "make test" in first


def _localize(text: str, app: AppServer, downloads: Path) -> str:
    """The README's URL, download folder and generated module -> this test's app and temporary paths."""
    return (text.replace(DOC_URL, app.url).replace("./downloads", str(downloads))
            .replace('"downloads"', repr(str(downloads))).replace("demo_api.py", str(downloads.parent / "demo_api.py")))


def test_readme_cli_examples(demo_app: AppServer, tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    commands = [line[2:] for block in blocks("console") for line in block.splitlines()
                if line.startswith("$ gradio-session ")]
    assert len(commands) >= 10
    for command in commands:
        piped = ""  # `A | gradio-session B`: A's output is B's input
        for part in _localize(command, demo_app, downloads).split(" | "):
            r = subprocess.run([sys.executable, "-m", "gradio_session", *shlex.split(part)[1:]], input=piped,
                               capture_output=True, text=True, timeout=120, cwd=ROOT, env=os.environ)
            assert r.returncode == 0, f"{command}: {r.stderr}"
            piped = r.stdout
    assert sorted(p.name for p in downloads.iterdir()) == ["echoed.jsonl", "reversed-demo_app.py", "sums.parquet"]
    assert len((downloads / "echoed.jsonl").read_text().splitlines()) == 12
    assert "class Demo(Generated):" in (tmp_path / "demo_api.py").read_text()


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_readme_python_examples(index: int, demo_app: AppServer, tmp_path: Path) -> None:
    _run_python(_localize(blocks("python")[index], demo_app, tmp_path / "downloads"))


CLAIM = re.compile(r"^\s*(?:print|help)\(.*#\s*(.*?)\s*$", flags=re.M)  # a printing line's comment


def claims(code: str) -> list[str]:
    """What an example says it prints: each printing line's comment `# -> VALUE` (an explanation
    may follow ` - `). A printing line with any other comment fails: its comment would read as
    a promise nobody checks."""
    out = []
    for comment in CLAIM.findall(code):
        assert comment.startswith("-> "), f"a printed value's comment is not a checked claim: # {comment}"
        out.append(comment[3:].split(" - ")[0].strip())
    return out


def test_the_readme_states_what_it_prints() -> None:
    """Guard against a walker that finds no claim and so can never fail."""
    python = blocks("python") + blocks("python", SPACES_TEXT) + blocks("python", NETWORK_TEXT)
    assert sum(len(claims(code)) for code in python) >= 25


def _run_python(code: str) -> str:
    """Run an example; each value it says it prints (`print(...)  # -> ['hi hi hi ']`, `...`
    for any text) must be a whole line of its output."""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=ROOT, env=os.environ)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    lines = [line.rstrip() for line in r.stdout.splitlines()]
    for promised in claims(code):
        pattern = ".*?".join(re.escape(part) for part in promised.split("..."))
        assert any(re.fullmatch(pattern, line) for line in lines), f"no line is {promised!r} in:\n{r.stdout}"
    return r.stdout


def test_readme_spaces_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Spaces section's examples, with its Space served by a Hub stand-in (asleep first) and
    a local copy of the Space's app."""
    from test_spaces import serving_hub

    with AppServer(APPS / "hello_world_app.py") as app:
        space = {"host": app.url, "stages": ["SLEEPING", "APP_STARTING", "RUNNING"]}
        with serving_hub({DOC_SPACE: space}, tmp_path, monkeypatch):
            commands = [line[2:] for block in blocks("console", SPACES_TEXT) for line in block.splitlines()
                        if line.startswith("$ gradio-session ")]
            assert len(commands) >= 3 and all(DOC_SPACE in c or "call" in c for c in commands)
            outputs = []
            for command in commands:
                r = subprocess.run([sys.executable, "-m", "gradio_session", *shlex.split(command)[1:]],
                                   capture_output=True, text=True, timeout=120, cwd=ROOT, env=os.environ)
                assert r.returncode == 0, f"{command}: {r.stderr}"
                outputs.append(r.stdout + r.stderr)
            assert "asleep, waking it up" in outputs[0] and "Hello World!" in outputs[1] and "RUNNING" in outputs[2]
            (code,) = blocks("python", SPACES_TEXT)
            printed = _run_python(code.replace(f'"{DOC_SPACE}"', f'"{DOC_SPACE}", name="py"'))
            assert "RUNNING" in printed and "'hardware': 'cpu-basic'" in printed


def test_readme_network_examples(home: Path) -> None:
    """The logins and proxies section: its shell lines (pipes and all, run by a shell) and its
    Python against the demo app behind a login (`--auth`, as the section says), its proxy a real
    proxy.py whose log shows the calls went through it."""
    from netfix import HttpProxy

    assert "python -m gradio_session.demo 7861 --auth alice:secret" in NETWORK_TEXT
    lines = [line[2:] for block in blocks("console", NETWORK_TEXT) for line in block.splitlines()
             if line.startswith("$ ")]
    assert len(lines) >= 6 and all("gradio-session " in line for line in lines)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
    with AppServer(APPS.parent.parent / "examples" / "demo_app.py", "--auth", "alice:secret") as app, \
            HttpProxy() as proxy:
        outputs = []
        for line in lines:
            r = subprocess.run(["bash", "-c", line.replace(LOGIN_URL, app.url).replace(PROXY_URL, proxy.url)],
                               capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
            assert r.returncode == 0, f"{line}: {r.stderr}"
            outputs.append(r.stdout)
        assert "behind a login" in outputs[1] and "logged in as alice (last login" in outputs[2]
        assert outputs[-1].strip() == "through the proxy"
        assert any(r.target == f"127.0.0.1:{app.port}" for r in proxy.requests())
        (code,) = blocks("python", NETWORK_TEXT)
        _run_python(code.replace(LOGIN_URL, app.url))


def test_readme_mcp_host_configuration(demo_app: AppServer) -> None:
    """The MCP section's host configuration, launched as a host would (the command's path made
    this venv's), lists the session's endpoints as tools."""
    import asyncio
    import json

    from mcp import Client, StdioServerParameters

    section = README[README.index("## Sessions as tools for agents (MCP)"):]
    (config,) = [json.loads(b) for b in blocks("json", section[:section.index("\n## ", 1)])]
    server = config["mcpServers"]["gradio-demo"]
    assert Path(server["command"]).name == "gradio-session" and server["args"][0] == "mcp"
    command = str(Path(sys.executable).parent / "gradio-session")
    subprocess.run([command, "new", demo_app.url, "--name", server["args"][-1]], check=True, capture_output=True)

    async def tools() -> set[str]:
        params = StdioServerParameters(command=command, args=server["args"], env=dict(os.environ))
        async with Client(params, mode="legacy") as client:
            return {t.name for t in (await client.list_tools()).tools}

    assert {"echo", "count", "steps", "gradio_result"} <= asyncio.run(tools())
