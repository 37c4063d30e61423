"""The session family: probe an app and create a session; find, list, set and remove sessions."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import files
from ..errors import ConnectError, GradioSessionError, NotAGradioApp, SessionError, SessionNotFound, SpaceError
from ..models import Login, Secrets, SessionRecord
from ..protocol import discovery
from ..store import secrets as kept_secrets
from ..store.repository import GLOB_CHARS, check_name
from ..transport import Transport
from . import access, spaces
from .probe import probe
from .runtime import runtime
from .session import AsyncSession


async def new_session(app: str, *, name: str | None = None, download_path: str | None = None,
                      force: bool = False, token: str | None = None, home: Path | str | None = None,
                      wait_timeout: float | None = None,
                      on_stage: Callable[[str], None] | None = None, auth: tuple[str, str] | None = None,
                      headers: dict[str, str] | None = None, proxy: str | None = None,
                      ca_bundle: str | None = None, insecure: bool = False) -> AsyncSession:
    """Probe a Gradio app and record a new session for it; nothing is recorded on failure.
    `app` may be a Hugging Face Space (`owner/name`, its page on the Hub, or its own
    `https://owner-name.hf.space` host): it is found, woken and waited for (`wait_timeout` s,
    default 300; each stage told to `on_stage`) first.

    How it is reached, kept with the session for every later process: `auth=(user, password)`,
    Gradio's login (also taken from `http://user:password@host`); `headers`, sent to the app's
    own origin only; `proxy` (else the environment's); `ca_bundle`, the CA certificates of a
    private CA; `insecure`, no certificate check at all. Secrets go to the OS keyring or a 0600
    file, never to the repository."""
    store = runtime().store(home)
    repo = store.repository
    app, in_url = access.split_credentials(app)
    network, changes = access.settings(login=auth or in_url, headers=headers, proxy=proxy, ca_bundle=ca_bundle,
                                       insecure=insecure)
    space = spaces.space_id(app)
    if space is None and (label := spaces.space_host(app)) is not None:
        if name is not None:
            check_name(name)  # a bad name costs no network
        space = await spaces.find_by_host(label, token)
    try:  # before the app is probed: a bad name costs no network
        if name is None and space is not None:
            name = space
        app_url = discovery.normalize_app_url(app) if space is None else ""
        name = check_name(discovery.derive_name(app_url) if name is None else name)
    except SessionError as exc:
        hint = " (It comes from the app's URL: give a name.)" if name is None else ""
        raise SessionError(f"{exc}{hint}") from None
    source = "given" if token else None
    if space is not None:
        found = await spaces.open_space(space, token, wait_timeout=wait_timeout or spaces.WAIT_TIMEOUT,
                                        on_stage=on_stage)
        app_url, source = found.url, found.token_source
        if not token and source:  # huggingface_hub's: read again at each use, never copied
            token = (await asyncio.to_thread(spaces.token_for, None))[0]
    kept = Secrets(token=token if source == "given" else None, **changes)
    logins: list[Login] = []
    access.warn_insecure(name, network)
    transport = Transport(app_url, dataclasses.replace(kept, token=token), network, http=runtime().http,
                          on_login=logins.append)
    try:
        api_url, info = await probe(transport, app_url)
    except (ConnectError, NotAGradioApp) as exc:
        if space is None:
            raise
        raise SpaceError(f"The Hub says the Space {space} runs, but its app does not answer through the Space's "
                         f"proxy: {exc} It may be restarting: try again in a minute.") from None
    finally:
        await transport.aclose()
    kept = dataclasses.replace(kept, cookies=transport.cookies())
    try:
        old: SessionRecord | None = await store.run(repo.get_session, name) if force else None
    except SessionNotFound:
        old = None
    record = SessionRecord(
        id=uuid.uuid4().hex[:12], name=name, app_url=app_url, api_url=api_url,
        session_hash=uuid.uuid4().hex[:12], created_at=time.time(), app=info,
        download_path=str(Path(download_path).expanduser().resolve()) if download_path else None,
        has_secrets=bool(kept), space=space, token_source=source, network=network,
    )
    record = await store.run(repo.create_session, record, force=force)
    if old is not None and old.name == name:
        await asyncio.to_thread(kept_secrets.delete, repo.home, old.id)
    if kept:
        try:
            await asyncio.to_thread(kept_secrets.store, repo.home, record.id, kept)
        except OSError as exc:
            await store.run(repo.remove_sessions, record.id)
            raise GradioSessionError(f"Could not keep the session's secrets safely: {exc}") from exc
    for login in logins:
        await store.run(repo.logins.add, record.id, login)
    return AsyncSession(record, store)


async def duplicate_space(space: str, to: str | None = None, *, hardware: str | None = None,
                          private: bool | None = None, sleep_time: int | None = None,
                          secrets: dict[str, str] | None = None, name: str | None = None,
                          token: str | None = None, home: Path | str | None = None,
                          wait_timeout: float | None = None,
                          on_stage: Callable[[str], None] | None = None) -> AsyncSession:
    """Duplicate a Hugging Face Space into your account (or `to`), wait for the copy to run,
    and create a session on it. A failure after the copy was made says which Space it left."""
    copy = await spaces.duplicate(space, to, token, hardware=hardware, private=private,
                                  sleep_time=sleep_time, secrets=secrets)
    try:
        return await new_session(copy, name=name, token=token, home=home, wait_timeout=wait_timeout,
                                 on_stage=on_stage)
    except GradioSessionError as exc:
        exc.args = (f"{exc} (The copy {copy} was made: it is on the Hub, without a session.)",)
        raise


async def get_session(name: str = ".", *, home: Path | str | None = None) -> AsyncSession:
    """A session by name, id, or `.` for the default."""
    store = runtime().store(home)
    return AsyncSession(await store.run(store.repository.get_session, name), store)


async def list_sessions(pattern: str = "*", *, home: Path | str | None = None) -> list[AsyncSession]:
    """Sessions whose name matches a glob pattern (`*` for all)."""
    store = runtime().store(home)
    return [AsyncSession(r, store) for r in await store.run(store.repository.list_sessions, pattern)]


async def local_file(value: Any, *, home: Path | str | None = None) -> Path | None:
    """The local copy of a file in a result (a FileData dict) that a session of the repository
    `home` downloaded (default: any repository this process uses, else the default one); None
    for any other value: a path an app gave is the app's, never read here."""
    key = files.download_key(value)
    if key is None:
        return None
    for store in [runtime().store(home)] if home is not None else runtime().stores() or [runtime().store()]:
        local = files.as_upload(value, await store.run(store.repository.downloaded, [key]))
        if isinstance(local, Path):
            return local
    return None


async def set_default(session: AsyncSession | str, *, home: Path | str | None = None) -> AsyncSession:
    """Make a session the default one."""
    store = runtime().store(home)
    ref = session if isinstance(session, str) else session.id
    return AsyncSession(await store.run(store.repository.set_default, ref), store)


async def set_options(session: AsyncSession | str = ".", *, home: Path | str | None = None,
                      **options: Any) -> AsyncSession:
    """Change max_calls, max_calls_policy or download_path of a session; or how it reaches its
    app: `headers` (a dict, replacing the kept ones; {} for none), `proxy` ("" for the
    environment's), `ca_bundle` ("" for the default trust), `insecure`."""
    store = runtime().store(home)
    if options.get("max_calls_policy") not in (None, "error", "warning", "remove"):
        raise GradioSessionError("max_calls_policy must be one of: error, warning, remove.")
    if options.get("download_path"):
        options["download_path"] = str(Path(options["download_path"]).expanduser().resolve())
    ref = session if isinstance(session, str) else session.id
    network = {k: v for k in ("headers", "proxy", "ca_bundle", "insecure") if (v := options.pop(k, None)) is not None}
    record = await store.run(store.repository.update_session, ref, **options)
    if network:
        record = await access.change(record, store, **network)
    return AsyncSession(record, store)


async def remove_session(name_or_pattern: str | None = None, *, pattern: str | None = None,
                         home: Path | str | None = None) -> list[str]:
    """Remove one session by name or id (`.`: the default), or with `pattern=` every session
    whose name matches a glob (`pattern="a*"`); with their calls and tokens. Returns the
    names removed."""
    if (name_or_pattern is None) == (pattern is None):
        raise TypeError("remove_session() takes a session name or id, or pattern=" +
                        (", not both." if pattern is not None else "."))
    store = runtime().store(home)
    if pattern is not None:
        removed = await store.run(store.repository.remove_sessions, pattern)
    else:
        assert name_or_pattern is not None
        try:
            removed = [await store.run(store.repository.remove_session, name_or_pattern)]
        except SessionNotFound as exc:
            if any(c in GLOB_CHARS for c in name_or_pattern):
                raise SessionNotFound(f"{exc} To remove every session matching a glob pattern, pass "
                                      f"pattern={name_or_pattern!r}.") from None
            raise
    for r in removed:
        if r.has_secrets:
            await asyncio.to_thread(kept_secrets.delete, store.repository.home, r.id)
    return [r.name for r in removed]
