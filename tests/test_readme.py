"""The README's examples run, against the demo app, so they can't rot."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, AppServer

README = (ROOT / "README.md").read_text()
DOC_URL = "http://127.0.0.1:7860"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_two_commands() -> None:
    first = blocks("console")[0]
    assert "make demo" in first and "make test" in first


def _localize(text: str, app: AppServer, downloads: Path) -> str:
    """The README's URL and download folder -> this test's app and a temporary folder."""
    return (text.replace(DOC_URL, app.url).replace("./downloads", str(downloads))
            .replace('"downloads"', repr(str(downloads))))


def test_readme_cli_examples(demo_app: AppServer, tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    commands = [line[2:] for block in blocks("console") for line in block.splitlines()
                if line.startswith("$ gradio-session ")]
    assert len(commands) >= 10
    for command in commands:
        args = shlex.split(_localize(command, demo_app, downloads))[1:]
        r = subprocess.run([sys.executable, "-m", "gradio_session", *args], capture_output=True,
                           text=True, timeout=120, cwd=ROOT, env=os.environ)
        assert r.returncode == 0, f"{command}: {r.stderr}"
    assert [p.name for p in downloads.iterdir()] == ["reversed-demo_app.py"]


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_readme_python_examples(index: int, demo_app: AppServer, tmp_path: Path) -> None:
    code = _localize(blocks("python")[index], demo_app, tmp_path / "downloads")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=ROOT, env=os.environ)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    # a printed value the README states in a comment (`print(...)  # ['hi hi hi ']`) must appear
    for promised in re.findall(r"^print\(.*#\s*(\[.*\])\s*$", code, flags=re.M):
        assert promised in r.stdout, promised
