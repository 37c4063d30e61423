"""The README's examples run, against the demo app, so they can't rot."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, AppServer, cli

README = (ROOT / "README.md").read_text()
DOC_URL = "http://127.0.0.1:7860"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_two_commands() -> None:
    first = blocks("console")[0]
    assert "make demo" in first and "make test" in first


def test_readme_cli_examples(demo_app: AppServer) -> None:
    commands = [line[2:] for block in blocks("console") for line in block.splitlines()
                if line.startswith("$ gradio-session ")]
    assert len(commands) >= 10
    for command in commands:
        args = shlex.split(command.replace(DOC_URL, demo_app.url))[1:]
        r = cli(*args)
        assert r.returncode == 0, f"{command}: {r.stderr}"


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_readme_python_examples(index: int, demo_app: AppServer) -> None:
    code = blocks("python")[index].replace(DOC_URL, demo_app.url)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=os.environ)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
