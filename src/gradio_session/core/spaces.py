"""Hugging Face Spaces: a Space id (or its Hub URL) -> its Gradio app's URL, woken and waited for.

The Hub is asked through huggingface_hub (imported only here, and only for a Space, so the
CLI's start stays fast), in a worker thread: its client is synchronous. The token is the one
given, else huggingface_hub's own (`HF_TOKEN`, the saved `hf auth login`); it goes to the Hub
and, through the session's transport, to the Space's own host only.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import CallError, ConnectError, GradioSessionError, NotAGradioApp, QueueFull, SpaceError
from ..models import Secrets
from ..transport import Transport

HUB = "https://huggingface.co"
HUB_ENV = "HF_ENDPOINT"  # huggingface_hub's own setting: another Hub (or a stand-in)
WAIT_TIMEOUT = 300.0  # seconds a Space gets to wake up or build before `new` gives up
GO = frozenset({"RUNNING", "RUNNING_BUILDING"})
WAKE = frozenset({"SLEEPING", "STOPPED"})
FAILED = frozenset({"PAUSED", "BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE"})
RESTART_AFTER = 30.0  # seconds a visited Space may stay asleep before its owner's restart is tried
_ID = re.compile(r"[A-Za-z0-9][\w-]*/[\w][\w.-]*")
_HOST = re.compile(r"^(?:https?://)?([a-z0-9][a-z0-9-]*)\.hf\.space(?::\d+)?(?:[/?#].*)?$", re.I)


class NoSuchSpace(SpaceError):
    """The Hub knows no Space of that id that the token can see."""


class RateLimited(SpaceError):
    """The Hub answered 429; `retry_after` is the wait its `ratelimit` header asks for."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Space:
    """A Space once its app runs: where the app is, and where the token came from."""

    url: str  # the app's own host, e.g. https://owner-name.hf.space
    token_source: str | None  # "given", "HF_TOKEN", "saved login", or None


def space_host(app: str) -> str | None:
    """The label of a Space's own host (`https://owner-name.hf.space` -> `owner-name`), else None."""
    found = _HOST.match(app.strip())
    return found.group(1).lower() if found else None


async def find_by_host(label: str, token: str | None) -> str:
    """The id of the Space served at `label`.hf.space. The label joins owner and name with a
    hyphen (and lowercases them), so each split is asked of the Hub until one's host matches."""
    token = (await asyncio.to_thread(token_for, token))[0]
    cuts = [i for i, c in enumerate(label) if c == "-"][:6]
    for cut in cuts:
        guess = f"{label[:cut]}/{label[cut + 1:]}"
        try:
            info = await asyncio.to_thread(hub_call, "space_info", guess, token)
        except NoSuchSpace:
            continue
        if (info.subdomain or "").lower() == label:
            return str(info.id)
    raise SpaceError(f"No Space that you can see is served at https://{label}.hf.space: give its id (owner/name); "
                     "a private one needs `hf auth login` or --token.")


def space_id(app: str) -> str | None:
    """`owner/name`, or the Space's page on the Hub (`https://huggingface.co/spaces/owner/name`)
    -> `owner/name`; None for anything else (an app URL, `host:port/path`)."""
    text = app.strip().rstrip("/")
    hub = urlsplit(os.environ.get(HUB_ENV) or HUB).netloc
    page = re.match(r"^(?:https?://)?([^/]+)/spaces/([^/?#]+/[^/?#]+)", text)
    if page and page.group(1) in (hub, "huggingface.co", "www.huggingface.co"):
        return page.group(2)
    owner = text.split("/", 1)[0]
    if _ID.fullmatch(text) and "." not in owner and owner != "localhost":
        return text
    return None


def token_for(given: str | None) -> tuple[str | None, str | None]:
    """(token, where it came from): given, else huggingface_hub's own resolution."""
    if given:
        return given, "given"
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        return None, None
    return token, "HF_TOKEN" if os.environ.get("HF_TOKEN") == token else "saved login"


async def open_space(space: str, token: str | None, *, wait_timeout: float = WAIT_TIMEOUT,
                     on_stage: Callable[[str], None] | None = None) -> Space:
    """Find the Space on the Hub and wait until its app runs: a sleeping Space is woken (a
    request to its host), a building one waited for, a broken one is a SpaceError with the
    Hub's message. `on_stage` hears each new stage."""
    token, source = await asyncio.to_thread(token_for, token)
    info = await asyncio.to_thread(hub_call, "space_info", space, token)
    if info.sdk not in ("gradio", None):
        raise NotAGradioApp(f"The Space {space} runs {info.sdk}, not Gradio: there is no Gradio app to call.",
                            url=_page(space))
    url = (info.host or (f"https://{info.subdomain}.hf.space" if info.subdomain else "")).rstrip("/")
    if not url:
        raise SpaceError(f"The Hub gives no host for the Space {space}; see {_page(space)}.")
    runtime, waker = info.runtime, _Waker(space, url, token)
    deadline, wait, seen = time.monotonic() + wait_timeout, 1.0, None
    while True:
        stage = runtime.stage if runtime else "RUNNING"
        if stage != seen and on_stage is not None:
            on_stage(stage)
        seen = stage
        if stage in GO:
            return Space(url, source)
        if stage in FAILED:
            why = (runtime.raw.get("errorMessage") if runtime else None) or "no message from the Hub"
            raise SpaceError(f"The Space {space} is {stage}: {why}. See {_page(space)}.")
        if stage in WAKE:
            await waker.rouse(stage)
        if time.monotonic() + wait > deadline:
            hint = " Only its owner can restart it." if stage == "STOPPED" and not waker.owned else ""
            raise SpaceError(f"The Space {space} is still {stage} after {wait_timeout:.0f} s; try again later, "
                             f"or wait longer (--wait-timeout).{hint} See {_page(space)}.")
        await asyncio.sleep(wait)
        wait = min(wait * 1.5, 10.0)
        try:
            runtime = await asyncio.to_thread(hub_call, "get_space_runtime", space, token)
        except RateLimited as exc:  # the stage is re-read after the wait the Hub asks for
            if time.monotonic() + exc.retry_after > deadline:
                raise
            wait = max(wait, exc.retry_after)


async def duplicate(space: str, to: str | None, token: str | None, *, hardware: str | None = None,
                    private: bool | None = None, sleep_time: int | None = None,
                    secrets: dict[str, str] | None = None) -> str:
    """Duplicate a Space into the token's account (or `to`, `namespace/name`); its new id."""
    token, _ = await asyncio.to_thread(token_for, token)
    if token is None:
        raise SpaceError("Duplicating a Space needs a Hugging Face token: log in with `hf auth login` or "
                         "pass --token.")
    options = {"private": private, "hardware": hardware, "sleep_time": sleep_time,
               "secrets": [{"key": k, "value": v} for k, v in (secrets or {}).items()] or None}
    url = await asyncio.to_thread(_duplicate, space, token, to, {k: v for k, v in options.items() if v is not None})
    return str(url.repo_id)


def _duplicate(space: str, token: str, to: str | None, options: dict[str, Any]) -> Any:
    """huggingface_hub >= 1 duplicates with `duplicate_repo` (Space options prefixed), older
    releases with `duplicate_space`."""
    from huggingface_hub import HfApi

    if not hasattr(HfApi, "duplicate_repo"):
        return hub_call("duplicate_space", space, token, to_id=to, **options)
    renamed = {k if k == "private" else f"space_{k}": v for k, v in options.items()}
    return hub_call("duplicate_repo", space, token, to_id=to, repo_type="space", **renamed)


class _Waker:
    """Wakes a Space that sleeps: a visit to its host first (what wakes a sleeping Space for
    anyone); a restart through the Hub when the token's user owns it and the visit is not enough
    (a STOPPED Space, or one still asleep RESTART_AFTER s after the visit)."""

    def __init__(self, space: str, url: str, token: str | None) -> None:
        self.space, self.url, self.token = space, url, token
        self.visited: float | None = None
        self.owned: bool | None = None  # asked of the Hub once, when a restart is considered
        self.restarted = False

    async def rouse(self, stage: str) -> None:
        if self.visited is None:
            self.visited = time.monotonic()
            await self._visit()
        if self.restarted or stage != "STOPPED" and time.monotonic() - self.visited < RESTART_AFTER:
            return
        if self.owned is None:
            self.owned = await asyncio.to_thread(_owns, self.space, self.token)
        if self.owned:
            self.restarted = True
            await asyncio.to_thread(hub_call, "restart_space", self.space, self.token)

    async def _visit(self) -> None:
        transport = Transport(self.url, Secrets(token=self.token))
        try:
            await transport.request("GET", self.url)
        except ConnectError:
            pass  # the visit is what wakes it; its answer does not matter
        finally:
            await transport.aclose()


def _owns(space: str, token: str | None) -> bool:
    """Whether the token's user is the Space's owner, or in the organisation that owns it."""
    if token is None:
        return False
    import httpx
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    try:
        me = HfApi(endpoint=os.environ.get(HUB_ENV) or None).whoami(token=token)
    except (HfHubHTTPError, httpx.HTTPError, OSError):  # no answer: the Space is waited for as anyone's
        return False
    owner = space.split("/", 1)[0]
    return owner == me.get("name") or owner in {org.get("name") for org in me.get("orgs") or []}


def runtime_of(space: str, token: str | None) -> dict[str, Any]:
    """The Space's stage and hardware as the Hub says now (for `show`)."""
    runtime = hub_call("get_space_runtime", space, token)
    return {"stage": runtime.stage, "hardware": runtime.hardware, "requested_hardware": runtime.requested_hardware,
            "sleep_time": runtime.sleep_time}


def hub_call(method: str, space: str, token: str | None, **options: Any) -> Any:
    """One Hub API call about a Space, its failures told apart."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    api = HfApi(endpoint=os.environ.get(HUB_ENV) or None, token=token or False)
    try:
        return getattr(api, method)(space, **options)
    except RepositoryNotFoundError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403) or token is None:
            raise NoSuchSpace(f"No Space {space} that you can see: it does not exist, or it is private. Log in "
                              "with `hf auth login` or pass --token.") from None
        raise NoSuchSpace(f"No Space {space} on the Hub (HTTP {status}).") from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 429:
            wait = re.search(r";t=(\d+)", exc.response.headers.get("ratelimit", "") if exc.response is not None else "")
            raise RateLimited(f"The Hub is rate-limiting requests about the Space {space}: retry in "
                              f"{wait.group(1) if wait else 'a minute'} s.",
                              retry_after=float(wait.group(1)) if wait else 60.0) from None
        if status in (401, 403):
            raise SpaceError(f"The Hub refused the token for the Space {space} (HTTP {status}): log in again "
                             "with `hf auth login`, or pass another --token.") from None
        if status == 409:
            raise SpaceError(f"The Hub refused: a Space of that name exists already ({exc}).") from None
        raise SpaceError(f"The Hub answered HTTP {status} for the Space {space}.") from None
    except Exception as exc:
        if not isinstance(exc, OSError) and not type(exc).__module__.startswith(("httpx", "httpcore")):
            raise  # not the network: a bug to see
        raise ConnectError(f"Can't reach the Hub ({os.environ.get(HUB_ENV) or HUB}): {exc}. Is it up, "
                           f"and {HUB_ENV} right?") from None


def _page(space: str) -> str:
    return f"{(os.environ.get(HUB_ENV) or HUB).rstrip('/')}/spaces/{space}"


async def woken(space: str, token: str | None, failure: GradioSessionError) -> bool:
    """A Space's app that did not take a call (refused, unreachable, 503): if the Hub says the
    Space is not running (it fell asleep), wake it, wait for it, and say to try again. Never
    for a call that may have reached the app."""
    never_sent = isinstance(failure, QueueFull) or type(failure) is CallError or \
        isinstance(failure, ConnectError) and not failure.sent
    if not never_sent:
        return False
    try:
        stage = (await asyncio.to_thread(hub_call, "get_space_runtime", space, token)).stage
    except GradioSessionError:
        return False  # the Hub can't say: the call's own failure is the one to hear
    if stage in GO:
        return False
    if stage not in FAILED:  # those are raised by open_space, with the Hub's reason
        warnings.warn(f"The Space {space} is {stage}: waking it up, and waiting for it.", stacklevel=5)
    await open_space(space, token)
    return True
