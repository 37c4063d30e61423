"""Notebooks (issue 26): sessions, calls and results that show themselves, in a real Jupyter
kernel (nbclient + ipykernel) against real Gradio apps. Asserted on the cells' MIME bundles and
on every display message the kernel sent, updates in place and widget messages included."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

import gradio_session as gs

from conftest import APPS, ROOT, AppServer
from kernel import run

EXAMPLE = ROOT / "examples" / "notebook.ipynb"


@pytest.fixture(scope="module")
def display_app() -> Iterator[AppServer]:
    with AppServer(APPS / "display_app.py") as app:
        yield app


def test_a_session_its_calls_and_results_show_themselves(demo_app: AppServer, tmp_path: Path) -> None:
    ran = run([
        f"import gradio_session as gs\ns = gs.new_session({demo_app.url!r}, name='nb')\ns",
        "s.call('steps', 3)",
        "r = s.api.picture(16)\nr",
        "print(type(r).__name__, r['size'] == __import__('os').path.getsize(r['path']), r['mime_type'])",
        "c = s.invoke('picture', 16)\nc.result()\nc",
        "s.calls()",
        "gs.list_sessions()",
        "from gradio_session import aio\na = await aio.get_session('nb')\nawait a.call('steps', 2)",
        "from IPython.core.completer import provisionalcompleter\nip = get_ipython()\nwith provisionalcompleter():\n"
        "    print(sorted({c.text for c in ip.Completer.completions('s.api.pic', 9)}))\n"
        "print(ip.object_inspect_mime('s.api.picture')['text/plain'])",
    ], tmp_path)
    session = ran.result(0)
    assert session["text/plain"].startswith("<Session 'nb' http://127.0.0.1:")  # the text as before
    html = session["text/html"]
    assert "<b>Session nb</b>" in html and "Gradio 6.31.0" in html and "11 endpoints" in html
    assert "<code>/picture</code>" in html and "<code>text: str</code>" in html and "<code>times: float = 1</code>" in html

    for cell, steps in ((1, 3), (7, 2)):  # sync, then aio: a widget bar, the app's messages, the bar gone
        lines = [b.get("text/plain") for b in ran.bundles(cell)]
        assert f"Info: stepping {steps} times" in lines and "Warning: all steps done" in lines
        models = [m["data"]["state"]["_model_name"] for m in ran.sent(cell, "comm_open")]
        assert "FloatProgressModel" in models
        values = [m["data"]["state"]["value"] for m in ran.sent(cell, "comm_msg") if "value" in m["data"]["state"]]
        assert any(isinstance(v, float) and 0 < v < 1 for v in values)
        assert any(v in (f"Stepping {k}/{steps} steps" for k in range(1, steps)) for v in values)
        assert [u["data"] for u in ran.sent(cell, "update_display_data")][-1] == {"text/plain": "", "text/html": ""}
        assert ran.result(cell)["text/plain"] == f"['{steps} steps']"

    picture = ran.result(2)
    assert picture["text/html"].startswith("<div><img src='data:image/png;base64,iVBOR")
    assert "'mime_type': 'image/png'" in picture["text/plain"]
    assert ran.stdout(3) == "dict True image/png\n"  # the typed FileDict stays a dict
    call = ran.result(4)["text/html"]
    assert "<b>Call <code>/picture</code></b> · complete · queued " in call and "took " in call
    assert "<small>Picture</small>" in call and "<img src='data:image/png;base64," in call
    calls = ran.result(5)["text/html"]
    assert calls.count("<code>/steps</code>") == 1 and calls.count("<code>/picture</code>") == 2
    assert "<b>nb</b> (default)" in ran.result(6)["text/html"]
    completed, doc = ran.stdout(8).split("\n", 1)
    assert completed == "['picture']"  # what the kernel answers a Tab with
    doc = re.sub(r"\x1b\[[0-9;]*m", "", doc)  # the kernel's colours
    assert "Signature: s.api.picture(size: float = 64) -> gradio_session.models.FileDict" in doc and "Size" in doc


def test_without_ipywidgets_the_bar_is_html_updated_in_place(demo_app: AppServer, tmp_path: Path) -> None:
    ran = run([
        "import sys\nsys.modules['ipywidgets'] = None  # as if not installed\n"
        f"import gradio_session as gs\ns = gs.new_session({demo_app.url!r}, name='nb')",
        "s.call('steps', 4)",
    ], tmp_path)
    assert ran.sent(1, "comm_open") == []
    first = [d for d in ran.sent(1, "display_data") if "<progress" in d["data"].get("text/html", "")]
    assert len(first) == 1  # one display, then updated in place
    updates = [u["data"] for u in ran.sent(1, "update_display_data")]
    assert any("<progress max='1' value='0.500'" in u["text/html"] and "Stepping 2/4 steps" in u["text/html"]
               for u in updates)
    assert updates[-1] == {"text/plain": "", "text/html": ""}
    assert "Info: stepping 4 times" in [b.get("text/plain") for b in ran.bundles(1)]


def test_results_for_the_eye_with_the_apps_markup_kept_as_text(display_app: AppServer, tmp_path: Path) -> None:
    ran = run([
        f"import gradio_session as gs\ns = gs.new_session({display_app.url!r}, name='eye')\ns",
        "s.invoke('table').result()\ns.get_call(s.calls()[-1].event_id)",
        "c = s.invoke('chat', '<b>hi</b>')\nc.result()\nc",
        "c = s.invoke('sound')\nc.result()\nc",
        "c = s.invoke('markup', '<i>x</i>')\nc.result()\nc",
        "'data:image/png;base64,iVBORw0KGgo='  # Gradio 3.x's images come inline",
        "'data:image/svg+xml;base64,PHN2Zz48c2NyaXB0PmFsZXJ0KDEpPC9zY3JpcHQ+PC9zdmc+'  # a script: text",
        "'data:image/png;base64,iVBOR\\'><script>alert(1)</script>'",
    ], tmp_path)
    shown = [ran.result(i)["text/html"] for i in range(5)]
    for html in shown:
        assert "<script" not in html and "<img src=x" not in html and "<i>x" not in html and "<b>hi" not in html
    assert "&lt;script&gt;document.title=&#x27;description ran&#x27;&lt;/script&gt;" in shown[0]
    assert "<th style='text-align:left;vertical-align:top;padding:2px 8px'>note</th>" in shown[1]
    assert "<td style='text-align:left;vertical-align:top;padding:2px 8px'>&lt;script&gt;" in shown[1]
    assert "&lt;b&gt;hi&lt;/b&gt;" in shown[2] and "<small>assistant</small><br>echo: &lt;script&gt;" in shown[2]
    assert "<audio controls src='data:audio/" in shown[3]
    assert "<pre style='white-space:pre-wrap;margin:0'>&lt;i&gt;x&lt;/i&gt;&lt;script&gt;" in shown[4]
    assert ran.result(5)["text/html"] == "<div><img src='data:image/png;base64,iVBORw0KGgo=' alt='image/png' " \
                                         "style='max-width:100%;max-height:480px'></div>"
    assert "text/html" not in ran.result(6) and "text/html" not in ran.result(7)


def test_a_path_the_app_gave_is_never_read(demo_app: AppServer, tmp_path: Path) -> None:
    """A result left on the app (its path the app's) and a FileData an app made up naming a
    local file: shown as links, never read, though the paths exist on this machine."""
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n TOP-SECRET")
    ran = run([
        f"import gradio_session as gs\ns = gs.new_session({demo_app.url!r}, name='nb')",
        "r = s.invoke('picture', 16).result(download=False)[0]\nprint(__import__('os').path.exists(r['path']))\nr",
        f"{{'path': {str(secret)!r}, 'url': None, 'orig_name': 'secret.png', 'meta': {{'_type': 'gradio.FileData'}}}}",
    ], tmp_path)
    assert ran.stdout(1) == "True\n"  # the app's file is on this machine, and still not read
    for i in (1, 2):
        html = ran.result(i)["text/html"]
        assert "data:" not in html and "(on the app)" in html
    assert "TOP-SECRET" not in json.dumps(ran.nb.cells[2].outputs)


def test_the_example_notebook_runs_clean(demo_app: AppServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADIO_DEMO_URL", demo_app.url)
    nb = nbformat.read(EXAMPLE, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit it without outputs"
    ran = run(nb, tmp_path)
    html = [b.get("text/html", "") for i, c in enumerate(nb.cells) if c.cell_type == "code" for b in ran.bundles(i)]
    assert any("<b>Session demo</b>" in h for h in html)
    assert any("<img src='data:image/png;base64," in h for h in html)
    assert any("Stepping" in json.dumps(m["content"]) for _, m in ran.messages if m["msg_type"] == "comm_msg")


SCRIPT = """
import sys
{pre}
import gradio_session as gs
s = gs.new_session(sys.argv[1], name="plain")
print(s.call("steps", 2), s.api.picture(8)["mime_type"])
print(sorted(m for m in ("IPython", "ipywidgets", "gradio_session.notebook") if m in sys.modules))
"""


@pytest.mark.parametrize("pre", ["", "import IPython  # loaded, but no kernel"])
def test_a_script_is_unchanged(demo_app: AppServer, tmp_path: Path, pre: str) -> None:
    script = tmp_path / "plain.py"
    script.write_text(SCRIPT.format(pre=pre))
    done = subprocess.run([sys.executable, str(script), demo_app.url], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    loaded = "['IPython']" if pre else "[]"
    assert (done.returncode, done.stdout, done.stderr) == (0, f"['2 steps'] image/png\n{loaded}\n", "")


def test_local_file_knows_the_repositories_of_this_process(demo_app: AppServer, tmp_path: Path, home: Path) -> None:
    """What a notebook shows inline is a download of a repository this process uses, whichever
    (`home=`): not the default one only; and only that download, at that path."""
    other = tmp_path / "other"
    r = gs.new_session(demo_app.url, name="elsewhere", home=other).api.picture(8)
    assert gs.local_file(r) == Path(r["path"]) == gs.local_file(r, home=other)
    assert gs.local_file(r, home=home) is None  # that repository downloaded nothing
    assert gs.local_file({**r, "url": "http://127.0.0.1:1/image.png"}) is None  # not the download recorded
    assert gs.local_file(r["path"]) is None  # a path alone is no download
