"""The session family: probe an app and create a session; find, list, set and remove sessions."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import GradioSessionError, NotAGradioApp, SessionNotFound
from ..models import AppInfo, SessionRecord
from ..protocol import discovery
from ..store import tokens
from ..transport import Transport
from .runtime import runtime
from .session import AsyncSession


async def probe(transport: Transport, app_url: str) -> tuple[str, AppInfo]:
    """Find an app's API root and read its API: `/config` first, then `/info`."""
    config: dict[str, Any] | None = None
    r = await transport.request("GET", f"{app_url}/config")
    if r.status in (401, 403):
        raise NotAGradioApp(f"{app_url} refused access (HTTP {r.status}): give a token with --token.", url=app_url)
    if r.status == 200 and discovery.looks_like_config(r.json()):
        config = r.json()
        roots = [discovery.api_root(app_url, config)]
    else:
        roots = [f"{app_url}/gradio_api", app_url]
    for root in roots:
        r = await transport.request("GET", f"{root}/info")
        info = r.json()
        if r.status == 200 and discovery.looks_like_info(info):
            return root, discovery.parse_app(info, config)
    raise NotAGradioApp(
        f"{app_url} does not look like a Gradio app (no Gradio configuration or API description "
        f"found; last answer HTTP {r.status}). Check the URL.", url=app_url,
    )


async def new_session(app: str, *, name: str | None = None, download_path: str | None = None,
                      force: bool = False, token: str | None = None,
                      home: Path | str | None = None) -> AsyncSession:
    """Probe a Gradio app and record a new session for it; nothing is recorded on failure."""
    store = runtime().store(home)
    repo = store.repository
    app_url = discovery.normalize_app_url(app)
    transport = Transport(app_url, token, http=runtime().http)
    try:
        api_url, info = await probe(transport, app_url)
    finally:
        await transport.aclose()
    name = name or discovery.derive_name(app_url)
    try:
        old: SessionRecord | None = await store.run(repo.get_session, name) if force else None
    except SessionNotFound:
        old = None
    record = SessionRecord(
        id=uuid.uuid4().hex[:12], name=name, app_url=app_url, api_url=api_url,
        session_hash=uuid.uuid4().hex[:12], created_at=time.time(), app=info,
        download_path=str(Path(download_path).expanduser().resolve()) if download_path else None,
        has_token=bool(token),
    )
    record = await store.run(repo.create_session, record, force=force)
    if old is not None and old.name == name:
        await asyncio.to_thread(tokens.delete, repo.home, old.id)
    if token:
        try:
            await asyncio.to_thread(tokens.store, repo.home, record.id, token)
        except OSError as exc:
            await store.run(repo.remove_sessions, record.id)
            raise GradioSessionError(f"Could not store the token safely: {exc}") from exc
    return AsyncSession(record, store)


def get_session(name: str = ".", *, home: Path | str | None = None) -> AsyncSession:
    """A session by name, id, or `.` for the default."""
    store = runtime().store(home)
    return AsyncSession(store.repository.get_session(name), store)


def list_sessions(pattern: str = "*", *, home: Path | str | None = None) -> list[AsyncSession]:
    """Sessions whose name matches a glob pattern (`*` for all)."""
    store = runtime().store(home)
    return [AsyncSession(r, store) for r in store.repository.list_sessions(pattern)]


def set_default(session: AsyncSession | str, *, home: Path | str | None = None) -> AsyncSession:
    """Make a session the default one."""
    store = runtime().store(home)
    ref = session if isinstance(session, str) else session.id
    return AsyncSession(store.repository.set_default(ref), store)


def set_options(session: AsyncSession | str = ".", *, home: Path | str | None = None,
                **options: Any) -> AsyncSession:
    """Change max_calls, max_calls_policy or download_path of a session."""
    store = runtime().store(home)
    if options.get("max_calls_policy") not in (None, "error", "warning", "remove"):
        raise GradioSessionError("max_calls_policy must be one of: error, warning, remove.")
    if options.get("download_path"):
        options["download_path"] = str(Path(options["download_path"]).expanduser().resolve())
    ref = session if isinstance(session, str) else session.id
    return AsyncSession(store.repository.update_session(ref, **options), store)


def remove_session(name_or_pattern: str, *, home: Path | str | None = None) -> list[str]:
    """Remove sessions by name, id or glob pattern, with their calls and token; their names."""
    repo = runtime().store(home).repository
    removed = repo.remove_sessions(name_or_pattern)
    for r in removed:
        if r.has_token:
            tokens.delete(repo.home, r.id)
    return [r.name for r in removed]
