"""gradio-session: drive Gradio apps through named, persistent sessions.

    import gradio_session as gs
    s = gs.new_session("http://127.0.0.1:7860")
    print(s.call("/predict", "hello"))

`gradio_session.aio` has the same API for asyncio.
"""

from . import aio
from .errors import (
    AppError, CallError, ConnectError, EndpointNotFound, GradioSessionError, MaxCallsReached,
    NotAGradioApp, ParameterError, QueueFull, RepositoryError, SessionError, SessionExists,
    SessionNotFound, StreamError,
)
from .models import AppInfo, CallRecord, Endpoint, Event, Output, Parameter, SessionRecord
from .sync import (
    Call, Session, get_session, list_sessions, new_session, remove_session, set_default, set_options,
)
from .version import __version__

__all__ = [
    "AppError", "AppInfo", "Call", "CallError", "CallRecord", "ConnectError", "Endpoint",
    "EndpointNotFound", "Event", "GradioSessionError", "MaxCallsReached", "NotAGradioApp", "Output",
    "Parameter", "ParameterError", "QueueFull", "RepositoryError", "Session", "SessionError",
    "SessionExists", "SessionNotFound", "SessionRecord", "StreamError", "__version__", "aio",
    "get_session", "list_sessions", "new_session", "remove_session", "set_default", "set_options",
]
