"""The public surface: exports, typing marker, and sync/async twins with matching signatures."""

from __future__ import annotations

import inspect
from pathlib import Path

import gradio_session as gs
from gradio_session import aio, sync


def test_all_exports_resolve() -> None:
    for name in gs.__all__:
        assert getattr(gs, name) is not None, name
    assert set(aio.__all__) == {"Call", "Session", "duplicate_space", "get_session", "list_sessions", "local_file",
                                "new_session", "remove_session", "set_default", "set_options", "watch_calls"}


def test_py_typed_is_shipped() -> None:
    assert (Path(gs.__file__).parent / "py.typed").exists()


def _params(fn: object) -> list[tuple[str, object, object]]:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def test_sync_and_async_functions_match() -> None:
    for name in ("new_session", "duplicate_space", "get_session", "list_sessions", "remove_session", "local_file"):
        assert _params(getattr(sync, name)) == _params(getattr(aio, name)), name
    for name in ("invoke", "call", "calls", "endpoint", "upload", "uploads", "refresh", "view_api", "forget",
                 "get_call_record", "map"):
        assert _params(getattr(sync.Session, name)) == _params(getattr(aio.Session, name)), name
    for name in ("events", "result"):
        assert _params(getattr(sync.Call, name)) == _params(getattr(aio.Call, name)), name
    assert inspect.isasyncgenfunction(aio.Call.events)


PLAIN = {"Session": {"endpoint", "can_detach", "view_api"}, "Call": {"history", "result_now"},  # no I/O: they read
         "watch_calls": set()}  # what is in memory, or set how a call shows itself


def test_every_aio_function_that_does_io_is_awaited() -> None:
    """In `aio`, everything that touches the repository or the network is a coroutine: only
    the in-memory look-ups of PLAIN (and properties) are plain."""
    for name in aio.__all__:
        obj = getattr(aio, name)
        if isinstance(obj, type):
            for attr, fn in vars(obj).items():
                if attr.startswith("_") or not inspect.isfunction(fn) or attr in PLAIN[name]:
                    continue
                assert inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn), f"{name}.{attr}"
        elif name not in PLAIN:
            assert inspect.iscoroutinefunction(obj), name
    assert not inspect.iscoroutinefunction(aio.watch_calls)
    for name, methods in PLAIN.items():
        for attr in methods:
            assert not inspect.iscoroutinefunction(getattr(getattr(aio, name), attr))
    assert inspect.iscoroutinefunction(aio.Session.close) and inspect.iscoroutinefunction(aio.Session.aclose)


def test_errors_share_one_base() -> None:
    errors = [getattr(gs, n) for n in gs.__all__ if isinstance(getattr(gs, n), type)
              and issubclass(getattr(gs, n), Exception)]
    assert len(errors) >= 10 and all(issubclass(e, gs.GradioSessionError) for e in errors)
