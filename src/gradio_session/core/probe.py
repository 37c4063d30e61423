"""Reading an app's API over the network: at `new`, and again when the app was redeployed."""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from typing import Any

from ..errors import AccessDenied, GradioSessionError, NotAGradioApp, UnsupportedApp
from ..models import AppInfo, SessionRecord
from ..protocol import discovery
from ..protocol.dialects import unsupported
from ..store.worker import StoreWorker
from ..transport import Transport


async def probe(transport: Transport, app_url: str) -> tuple[str, AppInfo]:
    """Find an app's API root and read its API: `/config` first, then `/info`; refuse a Gradio
    whose protocol has no dialect yet."""
    root, app = await _read_api(transport, app_url)
    reason = unsupported(app)
    if reason is not None:
        raise UnsupportedApp(reason, url=app_url)
    return root, app


async def _read_api(transport: Transport, app_url: str) -> tuple[str, AppInfo]:
    config: dict[str, Any] | None = None
    try:
        r = await transport.request("GET", f"{app_url}/config")
    except AccessDenied as exc:  # with the app's auth_message (older Gradio says it on its page only)
        if exc.status == 401 and not exc.said:
            transport.refused(401, app_url, exc.body, said=await _auth_message(transport, app_url))
        raise
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
    if config is not None:  # `/info` failed (Gradio 4.44 with a recent pydantic: HTTP 500)
        return roots[0], discovery.parse_app(discovery.info_from_config(config), config)
    raise NotAGradioApp(
        f"{app_url} does not look like a Gradio app (no Gradio configuration or API description "
        f"found; last answer HTTP {r.status}). Check the URL.", url=app_url,
    )


async def _auth_message(transport: Transport, app_url: str) -> str | None:
    """The message a Gradio app shows on its login page (`auth_message` in the page's config)."""
    try:
        page = await transport.request("GET", f"{app_url}/")
    except GradioSessionError:
        return None
    found = re.search(r'"auth_message":\s*("(?:[^"\\]|\\.)*")', page.text)
    said = json.loads(found.group(1)) if found else None
    return said if isinstance(said, str) and said.strip() else None


async def running_app_id(transport: Transport, api_url: str) -> str | None:
    """The id of the app running now (`{api}/app_id`; new after every restart), or None when
    the app does not say."""
    r = await transport.request("GET", f"{api_url}/app_id")
    body = r.json() if r.status == 200 else None
    app_id = body.get("app_id") if isinstance(body, dict) else None
    return None if app_id is None else str(app_id)


async def reread(transport: Transport, store: StoreWorker, old: SessionRecord) -> tuple[SessionRecord, bool]:
    """Read the app's API again and record it: the session keeps its hash and its calls. True
    when it changed, said with a warning naming the endpoints that came and went."""
    api_url, app = await probe(transport, old.app_url)
    await store.run(store.repository.set_app, old.id, api_url, app)
    changed = app.api_hash != old.app.api_hash or api_url != old.api_url
    if changed:
        new = sorted(set(app.endpoints) - set(old.app.endpoints))
        gone = sorted(set(old.app.endpoints) - set(app.endpoints))
        warnings.warn(f"The app's API changed: re-read it ({len(app.endpoints)} endpoints"
                      + (f"; new: {', '.join(new)}" if new else "") + (f"; gone: {', '.join(gone)}" if gone else "")
                      + ").", stacklevel=2)
    return dataclasses.replace(old, api_url=api_url, app=app), changed
