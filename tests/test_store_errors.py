"""Errors of the store are said, not swallowed: a keyring that fails, an interrupt in a batch."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest

import gradio_session as gs
from conftest import AppServer
from gradio_session.store.repository import Repository
from gradio_session.store.worker import StoreWorker
from test_tokens import MemoryKeyring


class LockedKeyring(MemoryKeyring):
    """An OS keyring that took the token, then is locked when it is asked for it."""

    locked = False

    def get_password(self, service: str, username: str) -> str | None:
        if self.locked:
            raise keyring.errors.KeyringLocked("the collection is locked")
        return super().get_password(service, username)


def test_a_keyring_that_fails_is_said_not_a_call_without_its_token(demo_app: AppServer) -> None:
    """Report: the keyring's failure was suppressed, so the call went without its token and the
    user later saw a confusing 401."""
    backend = LockedKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        s = gs.new_session(demo_app.url, name="locked", token="tok")
        assert backend.store  # kept in the keyring
        backend.locked = True
        with pytest.raises(gs.RepositoryError, match="The OS keyring failed to give this session's secrets "
                                                      r"\(KeyringLocked: the collection is locked\)"):
            gs.get_session("locked").call("echo", "x")
        assert s.calls() == []  # nothing was sent without it
    finally:
        keyring.set_keyring(previous)


def test_an_interrupt_inside_a_batch_is_not_swallowed_nor_run_again(home: Path) -> None:
    """Report: `except BaseException: pass` around a batch also ate KeyboardInterrupt, and ran
    every operation of the batch a second time."""
    import threading

    worker = StoreWorker(Repository(home))
    runs: list[str] = []
    running, hold = threading.Event(), threading.Event()

    def first() -> None:  # holds the worker while the next two queue up into one batch
        running.set()
        hold.wait(10)
        runs.append("first")

    def interrupted() -> None:
        runs.append("interrupted")
        raise KeyboardInterrupt

    def fine() -> str:
        runs.append("fine")
        return "ok"

    futures = [worker.post(first)]
    assert running.wait(10)
    futures += [worker.post(interrupted), worker.post(fine)]
    hold.set()
    outcome: list[object] = []
    for f in futures:
        try:
            outcome.append(f.result(10))
        except BaseException as exc:  # noqa: BLE001 - the test looks at what each waiter got
            outcome.append(type(exc))
    worker.close()
    assert outcome == [None, KeyboardInterrupt, KeyboardInterrupt]
    assert runs == ["first", "interrupted"]  # run once; the rest of the batch never ran
