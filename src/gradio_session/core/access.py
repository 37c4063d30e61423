"""How a session reaches its app: its secrets (token, login, headers, proxy, cookies) and network
settings, the transport made from them, and the login, logout and settings that change them.

Secrets are kept outside SQLite (`store/secrets.py`); the repository records the network settings
without a secret, and each login (who, when, whether the app took it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import GradioSessionError, ParameterError
from ..models import Cookie, Login, Network, Secrets, SessionRecord
from ..store import secrets as kept_secrets
from ..store.worker import StoreWorker
from ..network import without_credentials
from ..transport import Transport
from . import spaces
from .runtime import runtime


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """`http://alice:secret@host` -> (`http://host`, ("alice", "secret")): a URL's credentials
    are a login, never stored or printed with the URL."""
    parts = urlsplit(url) if "://" in url else None
    if parts is None or parts.username is None:
        return url, None
    return without_credentials(url), (unquote(parts.username), unquote(parts.password or ""))


def parse_headers(headers: dict[str, str] | list[str] | tuple[str, ...] | None) -> tuple[tuple[str, str], ...]:
    """Headers from a dict, or from `Name: value` texts (the CLI's --header); checked here."""
    if not headers:
        return ()
    pairs: list[tuple[str, str]] = []
    for item in headers.items() if isinstance(headers, dict) else headers:
        if isinstance(item, str):
            name, sep, value = item.partition(":")
            if not sep:  # the text may be a value: never repeated
                raise ParameterError("A header is `Name: value`, and one has no colon.")
            item = (name, value)
        name, value = item[0].strip(), str(item[1]).strip()
        if not name or any(c in name for c in " \t\r\n:") or any(c in value for c in "\r\n\0"):
            raise ParameterError(f"Not a header name and value: {name[:40]!r} (a name has no spaces or colons; "
                                 "a value is one line).")
        pairs.append((name, value))
    return tuple(pairs)


def settings(record: SessionRecord | None = None, *, login: tuple[str, str] | None = None,
             headers: Any = None, proxy: str | None = None, ca_bundle: str | None = None,
             insecure: bool | None = None) -> tuple[Network, dict[str, Any]]:
    """The network settings and the secret changes a `new` or `set` asks for."""
    network = record.network if record else Network()
    changes: dict[str, Any] = {}
    if login is not None:
        if not login[0]:
            raise ParameterError("A login needs a user name.")
        network = dataclasses.replace(network, login=login[0])
        changes["password"] = login[1]
    if headers is not None:
        pairs = parse_headers(headers)
        network = dataclasses.replace(network, headers=tuple(name for name, _ in pairs))
        changes["headers"] = pairs
    if proxy is not None:
        scheme = urlsplit(proxy).scheme if proxy else ""
        if proxy and scheme not in ("http", "https", "socks5", "socks5h"):
            raise ParameterError("A proxy is a URL: http://, https://, socks5:// or socks5h://"
                                 + (f", not {scheme}://." if scheme else "."))  # the URL may hold credentials
        network = dataclasses.replace(network, proxy=without_credentials(proxy) if proxy else None)
        changes["proxy"] = proxy or None
    if ca_bundle is not None:
        path = str(Path(ca_bundle).expanduser().resolve()) if ca_bundle else None
        if path is not None and not os.path.exists(path):
            raise ParameterError(f"No CA bundle at {path}: give a PEM file of the CA certificates.")
        network = dataclasses.replace(network, ca_bundle=path)
    if insecure is not None:
        network = dataclasses.replace(network, insecure=insecure)
    return network, changes


def warn_insecure(name: str, network: Network) -> None:
    if network.insecure:
        warnings.warn(f"The session {name} does not check its app's certificate (--insecure): anyone on the "
                      "network can read and change its calls. `gradio-session set --secure` turns it back on.",
                      stacklevel=3)


async def kept_of(record: SessionRecord, home: Path) -> Secrets:
    """The secrets kept for the session (read off the loop), none when it has none."""
    return await asyncio.to_thread(kept_secrets.load, home, record.id) if record.has_secrets else Secrets()


async def secrets_of(record: SessionRecord, home: Path) -> Secrets:
    """What the session's requests carry: its kept secrets, and huggingface_hub's token as it is
    now for a Space whose token is the Hub's (read off the loop)."""
    kept = await kept_of(record, home)
    if kept.token is None and record.token_source not in (None, "given"):
        kept = dataclasses.replace(kept, token=(await asyncio.to_thread(spaces.token_for, None))[0])
    return kept


async def token_of(record: SessionRecord, home: Path) -> str | None:
    """The session's token: the one kept for it, or huggingface_hub's as it is now."""
    return (await secrets_of(record, home)).token


class _Keeper:
    """Records a session's logins and keeps the cookies its app sets, for the session's other
    processes (one write at a time, the latest cookies last)."""

    def __init__(self, record: SessionRecord, store: StoreWorker) -> None:
        self.record, self.store = record, store
        self._cookies: tuple[Cookie, ...] | None = None
        self._task: asyncio.Task[None] | None = None

    def login(self, login: Login) -> None:
        self.store.record(self.store.repository.logins.add, self.record.id, login)

    def cookies(self, cookies: tuple[Cookie, ...]) -> None:
        if cookies == self._cookies:
            return
        self._cookies = cookies
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        try:
            await self._write_latest()
        except (GradioSessionError, OSError):  # the session removed meanwhile, a keyring gone: the next
            pass  # process logs in again

    async def _write_latest(self) -> None:
        home = self.store.repository.home
        while True:
            cookies = self._cookies  # with the secrets as kept now: another process may have changed them
            kept = await asyncio.to_thread(kept_secrets.load, home, self.record.id)
            await asyncio.to_thread(kept_secrets.store, home, self.record.id,
                                    dataclasses.replace(kept, cookies=cookies or ()))
            if not self.record.has_secrets:
                await self.store.run(self.store.repository.update_session, self.record.id, has_secrets=True)
                self.record = dataclasses.replace(self.record, has_secrets=True)
            if cookies == self._cookies:
                return

    async def flush(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)


async def transport_for(record: SessionRecord, store: StoreWorker) -> Transport:
    """The session's transport: its secrets, network settings, logins recorded, cookies kept."""
    secrets = await secrets_of(record, store.repository.home)
    keeper = _Keeper(record, store)
    transport = Transport(record.app_url, secrets, record.network, http=runtime().http,
                          on_login=keeper.login, on_cookies=keeper.cookies)
    transport.closing.append(keeper.flush)
    return transport


async def login(record: SessionRecord, store: StoreWorker, username: str | None, password: str) -> SessionRecord:
    """Log in to the session's app now and keep the login (a new password, or a new user):
    LoginRefused, and nothing kept, when the app says no."""
    username = username or record.network.login
    if not username:
        raise ParameterError(f"Which user? The session {record.name} has no login yet: give a user name.")
    network, changes = settings(record, login=(username, password))
    home = store.repository.home
    kept = await kept_of(record, home)
    kept = dataclasses.replace(kept, cookies=(), **changes)
    hub = (await asyncio.to_thread(spaces.token_for, None))[0] if record.token_source not in (None, "given") else None
    logins: list[Login] = []
    transport = Transport(record.app_url, dataclasses.replace(kept, token=kept.token or hub), network,
                          http=runtime().http, on_login=logins.append)
    try:
        await transport.login()
    finally:
        for one in logins:
            await store.run(store.repository.logins.add, record.id, one)
        await transport.aclose()
    return await keep(record, store, network, dataclasses.replace(kept, cookies=transport.cookies()))


async def keep(record: SessionRecord, store: StoreWorker, network: Network, secrets: Secrets) -> SessionRecord:
    """Record the session's network settings and keep its secrets (or forget them, when none)."""
    home = store.repository.home
    try:
        if secrets:
            await asyncio.to_thread(kept_secrets.store, home, record.id, secrets)
        else:
            await asyncio.to_thread(kept_secrets.delete, home, record.id)
    except OSError as exc:
        raise GradioSessionError(f"Could not keep the session's secrets safely: {exc}") from exc
    network = dataclasses.replace(network, revision=record.network.revision + 1)
    record = await store.run(store.repository.update_session, record.id, network=network,
                             has_secrets=bool(secrets))
    channel: Any = runtime().channels().get(record.id)
    if channel is not None:  # this process's open connection sends the new credentials from now on
        await refreshed(channel, record)
    return record


async def refreshed(channel: Any, record: SessionRecord) -> None:
    """A long-lived process's open connection (the CLI server's, a holder's) takes the login,
    headers and cookies another process changed; a new proxy or certificate setting takes effect
    on its next connection."""
    if channel.record.network.revision != record.network.revision:
        channel.transport.auth.update(await secrets_of(record, channel.store.repository.home), record.network.login)
        channel.record = dataclasses.replace(channel.record, network=record.network, has_secrets=record.has_secrets)


async def change(record: SessionRecord, store: StoreWorker, **options: Any) -> SessionRecord:
    """Change a session's network settings (`headers`, `proxy`, `ca_bundle`, `insecure`)."""
    network, changes = settings(record, **options)
    home = store.repository.home
    kept = await kept_of(record, home)
    return await keep(record, store, network, dataclasses.replace(kept, **changes))


async def logout(record: SessionRecord, store: StoreWorker) -> SessionRecord:
    """Forget the session's login: its user name, password and the app's cookies."""
    home = store.repository.home
    kept = await kept_of(record, home)
    return await keep(record, store, dataclasses.replace(record.network, login=None),
                      dataclasses.replace(kept, password=None, cookies=()))
