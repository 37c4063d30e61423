"""The public surface: exports, typing marker, and sync/async twins with matching signatures."""

from __future__ import annotations

import inspect
from pathlib import Path

import gradio_session as gs
from gradio_session import aio, sync


def test_all_exports_resolve() -> None:
    for name in gs.__all__:
        assert getattr(gs, name) is not None, name
    assert set(aio.__all__) == {"Call", "Session", "get_session", "list_sessions", "new_session",
                                "remove_session", "set_default", "set_options"}


def test_py_typed_is_shipped() -> None:
    assert (Path(gs.__file__).parent / "py.typed").exists()


def _params(fn: object) -> list[tuple[str, object, object]]:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def test_sync_and_async_functions_match() -> None:
    for name in ("new_session", "get_session", "list_sessions", "remove_session"):
        assert _params(getattr(sync, name)) == _params(getattr(aio, name)), name
    for name in ("invoke", "call", "calls", "endpoint", "upload", "uploads"):
        assert _params(getattr(sync.Session, name)) == _params(getattr(aio.Session, name)), name
    for name in ("events", "result"):
        assert _params(getattr(sync.Call, name)) == _params(getattr(aio.Call, name)), name
    assert inspect.iscoroutinefunction(aio.new_session) and inspect.iscoroutinefunction(aio.Session.invoke)
    assert inspect.isasyncgenfunction(aio.Call.events)


def test_errors_share_one_base() -> None:
    errors = [getattr(gs, n) for n in gs.__all__ if isinstance(getattr(gs, n), type)
              and issubclass(getattr(gs, n), Exception)]
    assert len(errors) >= 10 and all(issubclass(e, gs.GradioSessionError) for e in errors)
