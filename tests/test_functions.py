"""Typed functions (`session.api.<endpoint>`) against a real app with many kinds of inputs
(`apps/typed_app.py`): signatures, annotations, docstrings, checks before sending, results."""

from __future__ import annotations

import asyncio
import inspect
import os
import pydoc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Union

import pytest

import gradio_session as gs
from conftest import APPS, AppServer, cli, free_port, gradio_versions
from gradio_session import functions
from gradio_session.models import Endpoint, FileData, Parameter

FILE = Union[str, os.PathLike, FileData]


@pytest.fixture(scope="module")
def typed_app() -> Iterator[AppServer]:
    with AppServer(APPS / "typed_app.py") as app:
        yield app


@pytest.fixture
def s(typed_app: AppServer) -> gs.Session:
    return gs.new_session(typed_app.url, name="typed")


def test_a_signature_from_the_api(s: gs.Session) -> None:
    """Names, defaults (falsy ones too) and types from the JSON schema; required parameters first."""
    sig = inspect.signature(s.api.settings)
    assert {n: (p.annotation, p.default) for n, p in sig.parameters.items()} == {
        "text": (str, ""), "count": (int, 0), "ratio": (float, 0.5), "steps": (float, 20), "flag": (bool, False),
        "model": (Literal["small", "large"], "small"), "tags": (list[Literal["r", "g", "b"]], []),
        "mode": (Literal["fast", "careful"], "fast")}
    files = inspect.signature(s.api.files)
    assert [p.annotation for p in files.parameters.values()] == [FILE, list[FILE], FILE]  # type: ignore[valid-type]
    assert files.return_annotation == tuple[str, Any]
    chat = inspect.signature(s.api.chat)
    assert list(chat.parameters) == ["message", "data", "history", "table"]  # the state is the session's
    assert chat.parameters["data"].default is inspect.Parameter.empty
    assert sorted(dir(s.api)) == ["chat", "copy", "files", "pick", "refill", "settings"]
    assert inspect.signature(s.api.copy).return_annotation is gs.FileDict  # a file comes back as a dict


def test_help_reads_well(s: gs.Session) -> None:
    text = pydoc.render_doc(s.api.settings, renderer=pydoc.plaintext)
    assert "settings(text: str = '', count: int = 0" in text and "Echo the settings, as the app received them." in text
    for line in ("Slider 'Steps'; numeric value between 1 and 50.", "From 1 to 50, step 1.",
                 "One of ['small', 'large'].", "Any of ['r', 'g', 'b'].", "Default: False.", "[0] Any: Json 'Settings'"):
        assert line in text, line
    assert "Required." in s.api.chat.__doc__ and "Returns (a tuple):" in s.api.chat.__doc__
    with pytest.raises(AttributeError, match="no endpoint 'setings'. Did you mean settings?"):
        s.api.setings  # noqa: B018


def test_calling_returns_the_result(s: gs.Session, tmp_path: Path) -> None:
    got = s.api.settings("hi", count=3, tags=["r", "g"], flag=True, steps=50)
    assert got == {"text": "hi", "count": 3, "ratio": 0.5, "steps": 50, "flag": True, "model": "small",
                   "tags": ["r", "g"], "mode": "fast"}
    from PIL import Image

    (tmp_path / "doc.txt").write_text("the document")
    (tmp_path / "a.txt").write_text("a")
    Image.new("RGB", (2, 2)).save(tmp_path / "pic.png")
    content, names = s.api.files(tmp_path / "doc.txt", [str(tmp_path / "a.txt"), tmp_path / "doc.txt"],
                                 image=tmp_path / "pic.png")
    assert content == "the document" and names[:2] == ["a.txt", "doc.txt"] and names[2].endswith(".png")
    history, rows, echoed, turns = s.api.chat("hello", {"k": [1, 2]})
    assert history[-1]["content"][0]["text"] == "olleh" and echoed == {"k": [1, 2]} and turns == 1
    assert s.api.chat("again", None, history=history)[3] == 2  # the session's gr.State went on


def test_invoke_and_stream(s: gs.Session) -> None:
    call = s.api.settings.invoke("i")
    assert isinstance(call, gs.Call) and call.result()[0]["text"] == "i"
    events = list(s.api.settings.stream("e", mode="careful"))
    assert events[-1].name == "complete" and events[-1].data[0]["mode"] == "careful"


@pytest.mark.parametrize("kwargs, message", [
    ({"model": "medium"}, r"'model' \(Model\) takes one of \['small', 'large'\], not 'medium'"),
    ({"tags": ["r", "x"]}, r"'tags' \(Tags\) takes values of \['r', 'g', 'b'\], not 'x'"),
    ({"steps": 51}, r"'steps' \(Steps\) takes a number between 1 and 50, not 51"),
    ({"count": 1.5}, r"'count' \(Count\) takes an integer \(int\), got 1.5"),
    ({"flag": "yes"}, r"'flag' \(Flag\) takes a boolean"),
    ({"colour": "red"}, r"settings\(\): got an unexpected keyword argument 'colour'"),
])
def test_wrong_values_are_refused_before_anything_is_sent(s: gs.Session, kwargs: dict[str, Any],
                                                          message: str) -> None:
    with pytest.raises(gs.ParameterError, match=message):
        s.api.settings(**kwargs)
    with pytest.raises(gs.ParameterError, match=r"chat\(\): missing a required argument: 'data'"):
        s.api.chat("no data")
    assert s.calls() == []


def test_choices_an_app_changes_are_not_enforced(s: gs.Session) -> None:
    """A dropdown some event updates may take other values in the session: the app judges them."""
    assert "One of ['vanilla', 'mint'] (or another value)." in s.api.pick.__doc__
    s.api.refill()
    assert s.api.pick("mango") == "mango"


def test_the_async_session_has_them_too(typed_app: AppServer) -> None:
    async def main() -> None:
        s = await gs.aio.new_session(typed_app.url, name="typed-aio")
        async with s:
            assert (await s.api.settings("a", mode="careful"))["mode"] == "careful"
            call = await s.api.settings.invoke("b")
            assert (await call.result())[0]["text"] == "b"
            names = [event.name async for event in s.api.settings.stream("c")]
            assert names[-1] == "complete"
            with pytest.raises(gs.ParameterError, match="takes one of"):
                await s.api.settings(model="huge")
            assert inspect.signature(s.api.settings) == inspect.signature(gs.get_session("typed-aio").api.settings)

    asyncio.run(main())


def test_names_that_are_not_identifiers() -> None:
    """Names made from labels (Gradio 3.x) may be keywords, or repeat once made identifiers: each
    gets its own, and the values still go out under the app's names."""
    ep = Endpoint(name="/image-to-text", parameters=(
        Parameter(name="class", schema={"type": "string"}), Parameter(name="my-value", schema={"type": "integer"}),
        Parameter(name="my_value", schema={"type": "number"}, has_default=True, default=0.0),
        Parameter(name="2d", schema={"type": "boolean"}, has_default=True, default=False)))
    assert functions.parameter_names(ep) == {"class_": "class", "my_value": "my-value", "my_value_2": "my_value",
                                             "_2d": "2d"}
    assert str(functions.signature(ep)) == "(class_: str, my_value: int, my_value_2: float = 0.0, _2d: bool = False) -> None"
    text = functions.endpoint_help(ep)
    assert text.startswith("image_to_text(class_: str") and "class_: str ('class' in the app's API)" in text


@pytest.mark.parametrize("version", [v for v in gradio_versions() if v.startswith("3.")])
def test_keyword_and_repeated_names_on_a_real_app(version: str) -> None:
    """Gradio 3.x names parameters after their labels: `class`, `lambda`, `Text` twice."""
    with AppServer(APPS / "labels_app.py", python=gradio_versions()[version]) as app:
        s = gs.new_session(app.url, name="labels")
        assert [p.name for p in s.endpoint("join").parameters] == ["class", "lambda", "text", "text_2"]
        assert list(inspect.signature(s.api.join).parameters) == ["class_", "lambda_", "text", "text_2"]
        assert s.api.join("k", lambda_="l", text="t", text_2="u") == "k|l|t|u"
        assert "class_: str ('class' in the app's API)" in s.api.join.__doc__
        r = cli("call", "join", "class=k", "lambda=l", "text=t", "text_2=u", "--session", "labels")
        assert r.returncode == 0 and r.stdout == "k|l|t|u\n", r.stderr


def test_the_cli_prints_an_endpoints_help(s: gs.Session) -> None:
    r = cli("call", "settings", "--help", "--session", "typed")
    assert r.returncode == 0 and r.stdout.startswith("Usage: gradio-session call settings"), r.stderr
    assert "In Python: s.api.settings(text: str = ''" in r.stdout and "One of ['small', 'large']." in r.stdout
    assert s.calls() == []
    r = cli("call", "-h")
    assert r.returncode == 0 and "Usage: gradio-session call [OPTIONS] [ENDPOINT]" in r.stdout and "after an" in r.stdout
    r = cli("call")
    assert r.returncode == 2 and "Missing argument 'ENDPOINT'" in r.stderr
    r = cli("call", "settings", "model=medium", "--session", "typed")
    assert r.returncode == 1 and "takes one of ['small', 'large'], not 'medium'" in r.stderr


SAMPLE = '''from typed_client import ChatResult, Typed

app = Typed()
settings = app.settings("hi", count=3, model="large", tags=["r", "g"])
reply: ChatResult = app.chat("hello", {"k": 1})
turns: float = reply.turns
copied = app.copy("sample.py")
size: int | None = copied["size"]
print(settings["model"], turns, open(copied["path"]).read() == open("sample.py").read())
'''
WRONG = '''from typed_client import Typed

app = Typed()
app.settings(count="3")
app.settings(model="medium")
n: str = app.chat("x", None).turns
where: int = app.copy("wrong.py")["path"]
'''


def _mypy(folder: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(folder / ".mypy"), *files],
                          capture_output=True, text=True, cwd=folder, timeout=300)


def test_a_generated_module_type_checks(s: gs.Session, tmp_path: Path) -> None:
    """`codegen` writes a module that passes `mypy --strict` with a sample use, catches a wrongly
    typed call, and runs."""
    r = cli("codegen", "--session", "typed", "-o", str(tmp_path / "typed_client.py"))
    assert r.returncode == 0 and "Wrote" in r.stderr, r.stderr
    source = (tmp_path / "typed_client.py").read_text()
    assert f"API_HASH = {s.app.api_hash!r}" in source and "class ChatResult(NamedTuple):" in source
    (tmp_path / "sample.py").write_text(SAMPLE)
    (tmp_path / "wrong.py").write_text(WRONG)
    checked = _mypy(tmp_path, "typed_client.py", "sample.py")
    assert checked.returncode == 0, checked.stdout
    checked = _mypy(tmp_path, "wrong.py")
    assert checked.returncode == 1
    for line, wrong in ((4, '"count" to "settings" of "Typed" has incompatible type "str"; expected "int"'),
                        (5, "\"Literal['medium']\"; expected \"Literal['small', 'large']\""),
                        (6, 'Incompatible types in assignment (expression has type "float", variable has type "str")'),
                        (7, 'Incompatible types in assignment (expression has type "str", variable has type "int")')):
        assert f"wrong.py:{line}: error:" in checked.stdout and wrong in checked.stdout, checked.stdout
    ran = subprocess.run([sys.executable, "sample.py"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert ran.returncode == 0 and ran.stdout == "large 1 True\n", ran.stderr


def test_a_generated_module_notices_a_changed_api(tmp_path: Path) -> None:
    port = free_port()
    with AppServer(APPS / "redeploy_app.py", "1", port=port) as v1:
        gs.new_session(v1.url, name="moving")
        r = cli("codegen", "--session", "moving", "-o", str(tmp_path / "moving_client.py"), "--class-name", "Moving")
        assert r.returncode == 0, r.stderr
    use = "from moving_client import Moving\nprint(Moving().echo('a'))\n"
    with AppServer(APPS / "redeploy_app.py", "2", port=port):
        ran = subprocess.run([sys.executable, "-c", use], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert ran.returncode == 1, ran.stderr
    assert ("ApiChanged: The app's API changed since this module was generated: /echo: parameter 'suffix' is new. "
            "Generate it again: gradio-session codegen --session moving") in ran.stderr
    assert [c.status for c in gs.get_session("moving").calls()] == []  # nothing was sent
