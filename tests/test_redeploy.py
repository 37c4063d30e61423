"""An app redeployed with another API under the same URL: the session reads it again, keeps
its Gradio session hash and its history, and never sends a call to an endpoint that moved."""

from __future__ import annotations

import warnings

import pytest

import gradio_session as gs
from conftest import APPS, AppServer, cli, free_port


def test_a_redeployed_app_is_read_again(home: object) -> None:
    port = free_port()
    with AppServer(APPS / "redeploy_app.py", "1", port=port) as v1:
        s = gs.new_session(v1.url, name="redeployed")
        assert s.call("echo", "a") == ["v1 a"]
        with pytest.raises(gs.EndpointNotFound):
            s.call("shout", "a")  # not there, and reading the API again finds it unchanged
        r = cli("refresh", "--session", "redeployed")
        assert r.returncode == 0 and "unchanged" in r.stdout + r.stderr, r.stderr
    hash_before = s.record.session_hash
    with AppServer(APPS / "redeploy_app.py", "2", port=port):
        # an endpoint new in version 2: the API is read again, with a warning that says so
        with pytest.warns(UserWarning, match="The app's API changed: re-read it"):
            assert s.call("shout", "hey") == ["HEY"]
        assert s.call("echo", "b", "?") == ["v2 b?"]  # echo moved (another fn_index) and grew
        assert s.call("add", 1, 2) == [3]
        # another process, whose record of the API was stale until now, sees the new one
        r = cli("call", "echo", "c", "--session", "redeployed")
        assert r.returncode == 0 and r.stdout == "v2 c!\n", r.stderr
        again = gs.get_session("redeployed")
        assert again.record.session_hash == hash_before and "/shout" in again.app.endpoints
        assert [c.status for c in again.calls()] == ["complete"] * 5


def test_a_restarted_app_with_another_api_is_noticed_before_the_call(home: object) -> None:
    """Same endpoint names, other positions: calling `add` with version 1's fn_index would run
    another function; the new app id makes the session read the API first."""
    port = free_port()
    with AppServer(APPS / "redeploy_app.py", "1", port=port) as v1:
        gs.new_session(v1.url, name="moved")
        r = cli("call", "add", "1", "2", "--session", "moved")
        assert r.returncode == 0 and r.stdout == "3\n", r.stderr
    with AppServer(APPS / "redeploy_app.py", "2", port=port):
        r = cli("call", "add", "2", "3", "--session", "moved")
        assert r.returncode == 0 and r.stdout == "5\n", r.stderr
        assert "The app's API changed: re-read it" in r.stderr
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # read once: no second warning
            assert gs.get_session("moved").call("add", 4, 5) == [9]
