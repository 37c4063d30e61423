"""The one exception tree of gradio-session.

    GradioSessionError              base: catch this to catch everything we raise
    ├── ConnectError                the app can't be reached, or the connection died
    │   └── CertificateError        its certificate was refused (a private CA: --ca-bundle)
    ├── AccessDenied                the app refused access (HTTP 401/403): a login, a header, a token
    │   └── LoginRefused            the app refused the session's login (a wrong password)
    ├── NotAGradioApp               the URL answers, but not as a Gradio app
    │   └── UnsupportedApp          a Gradio whose protocol this version can't speak (2.x)
    ├── SpaceError                  a Hugging Face Space not found, not visible, broken, asleep too long
    ├── SessionError
    │   ├── SessionExists           a session of that name exists (use force)
    │   └── SessionNotFound         no session matches the name, pattern or id
    ├── EndpointNotFound            the app has no such endpoint (close names suggested)
    ├── ParameterError              unknown parameter, wrong count, value of the wrong type
    ├── MaxCallsReached             the session's max_calls with policy "error"
    ├── FileTransferError           a local file can't be read, an upload or a download failed
    ├── CallNotFound                no call of that event id in the session
    ├── CallError                   a call that started but did not end well
    │   ├── AppError                the app sent an error event (its message is kept)
    │   │   └── QuotaExceeded       a ZeroGPU Space's GPU quota is used up (retry_after)
    │   ├── StreamError             the server died mid-stream or sent a malformed event
    │   ├── QueueFull               the server refused the call: its queue is full
    │   ├── CallCancelled           the call was cancelled on the server
    │   ├── CallTimeout             the call outlived its timeout (and was cancelled)
    │   └── CallMayHaveStarted      the request reached the app but its answer was lost
    ├── BatchError                  a batch can't run: bad input or output, output in use, extra missing
    └── RepositoryError             the session repository can't be read or written
"""

from __future__ import annotations

from collections.abc import Sequence


class GradioSessionError(Exception):
    """Base of every error raised by gradio-session; the message says what to try next."""


class ConnectError(GradioSessionError):
    """The app could not be reached (refused, DNS, timeout) or the connection died. `sent`:
    the request went out before the connection died, so the app may have acted on it."""

    def __init__(self, message: str, *, url: str | None = None, sent: bool = False) -> None:
        super().__init__(message)
        self.url = url
        self.sent = sent


class CertificateError(ConnectError):
    """An https app's certificate was refused: a private CA to give (`ca_bundle`), or none to check."""


class AccessDenied(GradioSessionError):
    """The app refused access (HTTP 401/403): it wants a login, a header or a token (the message says which)."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None, body: str = "",
                 said: bool = False) -> None:
        super().__init__(message)
        self.url, self.status, self.body, self.said = url, status, body, said  # said: the app's auth_message in it


class LoginRefused(AccessDenied):
    """The app refused the session's Gradio login: a wrong user name or password."""


class NotAGradioApp(GradioSessionError):
    """The URL answered, but not with a Gradio app's configuration and API description."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class UnsupportedApp(NotAGradioApp):
    """A Gradio app of a release whose protocol gradio-session can't speak (yet)."""


class SpaceError(GradioSessionError):
    """A Hugging Face Space can't be reached: not found, no access, paused or broken, or still
    not running when the wait ended (the message says which, with the Space's page)."""


class SessionError(GradioSessionError):
    """A problem with the named sessions themselves."""


class SessionExists(SessionError):
    """A session of that name exists already and `force` was not given."""


class SessionNotFound(SessionError):
    """No session matches the given name, pattern or id."""


class EndpointNotFound(GradioSessionError):
    """The app has no endpoint of that name."""

    def __init__(self, endpoint: str, known: Sequence[str], suggestions: Sequence[str]) -> None:
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        listing = ", ".join(known) if known else "none"
        super().__init__(f"The app has no endpoint {endpoint!r}.{hint} Endpoints: {listing}.")
        self.endpoint = endpoint
        self.known = list(known)
        self.suggestions = list(suggestions)


class ParameterError(GradioSessionError):
    """The values given don't fit the endpoint's parameters."""


class ApiChanged(GradioSessionError):
    """The app's API is no longer the one a generated module (`gradio-session codegen`) was made
    from; the message names each endpoint and parameter that changed."""


class MaxCallsReached(GradioSessionError):
    """The session holds `max_calls` calls already and its policy is "error"."""


class FileTransferError(GradioSessionError):
    """A local file is missing or unreadable, the server refused an upload, or a download broke."""


class CallNotFound(GradioSessionError):
    """No call of that event id is recorded in the session searched."""


class CallError(GradioSessionError):
    """A call was sent but did not end with a result."""

    def __init__(self, message: str, *, event_id: str | None = None) -> None:
        super().__init__(message)
        self.event_id = event_id


class AppError(CallError):
    """The app reported an error for this call; `app_message` is the app's own text."""

    def __init__(self, app_message: str | None, *, endpoint: str, event_id: str | None = None) -> None:
        text = app_message or "no message (the app may hide its errors: launch it with show_error=True)"
        super().__init__(f"The app failed on {endpoint}: {text}", event_id=event_id)
        self.app_message = app_message
        self.endpoint = endpoint


class QuotaExceeded(AppError):
    """A ZeroGPU Space refused the call: the caller's GPU quota is used up for now.
    `retry_after`: seconds until it may be tried again (None if the Space did not say)."""

    def __init__(self, app_message: str, *, endpoint: str, event_id: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(app_message, endpoint=endpoint, event_id=event_id)
        self.retry_after = retry_after
        wait = f"retry in {int(retry_after) // 60} min {int(retry_after) % 60} s" if retry_after is not None \
            else "retry later"
        self.args = (f"The Space's GPU quota is used up ({endpoint}): {wait}. Logged in (hf auth login, or "
                     f"--token), the quota is your account's. The Space said: {app_message}",)


class StreamError(CallError):
    """The event stream broke: the server died mid-call or sent something we can't decode."""


class QueueFull(CallError):
    """The server's queue is full; try again later."""


class CallCancelled(CallError):
    """The call was cancelled on the server before it ended."""


class CallTimeout(CallError):
    """The call did not end within its timeout; it was cancelled on the server."""


class CallMayHaveStarted(CallError):
    """A call was sent, but the connection died before the app answered: it may be running
    without an event id to follow it by. It is never sent again on our own."""


class BatchError(GradioSessionError):
    """A batch can't start or go on: its input can't be read, its output belongs to another
    batch or another process writes it, or the optional extra it needs is not installed."""


class RepositoryError(GradioSessionError):
    """The session repository (SQLite) could not be read or written."""
