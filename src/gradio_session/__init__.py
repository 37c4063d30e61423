"""gradio-session: drive Gradio apps through named, persistent sessions.

    import gradio_session as gs
    s = gs.new_session("http://127.0.0.1:7860")
    print(s.call("/predict", "hello"))

`gradio_session.aio` has the same API for asyncio.
"""

import sys
from typing import TYPE_CHECKING, Any

from .errors import (
    AccessDenied, ApiChanged, AppError, BatchError, CallCancelled, CallError, CallMayHaveStarted, CallNotFound,
    CallTimeout, CertificateError, ConnectError, EndpointNotFound, FileTransferError, GradioSessionError,
    LoginRefused, MaxCallsReached,
    NotAGradioApp, ParameterError, QueueFull, QuotaExceeded, RepositoryError, SessionError, SessionExists,
    SessionNotFound, SpaceError, StreamError, UnsupportedApp,
)
from .version import __version__

if TYPE_CHECKING:
    from . import aio, batch
    from .binding import split_cli_values
    from .functions import endpoint_help
    from .models import (
        AppInfo, BatchRecord, CallRecord, Endpoint, Event, FileData, FileDict, Login, Network, Output, Parameter,
        Row, RowResult, SessionRecord, UploadRecord,
    )
    from .sync import (
        Call, Session, duplicate_space, get_session, list_sessions, local_file, new_session, remove_session,
        set_default, set_options,
    )

_LAZY = {  # name -> the module holding it, imported on first use so the CLI starts fast
    **dict.fromkeys(("Call", "Session", "duplicate_space", "get_session", "list_sessions", "local_file",
                     "new_session", "remove_session", "set_default", "set_options"), ".sync"),
    **dict.fromkeys(("AppInfo", "CallRecord", "Endpoint", "Event", "FileData", "FileDict", "Output", "Parameter",
                     "SessionRecord", "UploadRecord", "BatchRecord", "Row", "RowResult", "Login", "Network"),
                   ".models"),
    "split_cli_values": ".binding",
    "endpoint_help": ".functions",
}


def __getattr__(name: str) -> Any:
    """Load the records and the HTTP machinery on first use, so `gradio-session --help` starts fast."""
    import importlib

    if name in ("aio", "batch"):
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'gradio_session' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names with the lazy ones, so `dir()` and completion show `new_session`."""
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AccessDenied", "CertificateError", "Login", "LoginRefused", "Network",
    "ApiChanged", "AppError", "AppInfo", "BatchError", "BatchRecord", "Call", "CallCancelled", "CallError", "CallMayHaveStarted", "CallNotFound", "CallTimeout", "CallRecord", "ConnectError", "Endpoint",
    "EndpointNotFound", "Event", "FileData", "FileDict", "FileTransferError", "GradioSessionError",
    "MaxCallsReached", "NotAGradioApp", "Output", "Row", "RowResult",
    "Parameter", "ParameterError", "QueueFull", "QuotaExceeded", "RepositoryError", "Session", "SessionError",
    "SessionExists", "SessionNotFound", "SessionRecord", "SpaceError", "StreamError", "UnsupportedApp", "UploadRecord", "__version__", "aio", "batch",
    "duplicate_space", "endpoint_help", "get_session", "list_sessions", "local_file", "new_session", "remove_session", "set_default", "set_options",
    "split_cli_values",
]


def _in_a_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, VS Code, Colab): IPython is loaded already and
    its shell has a kernel. Never imports IPython: a script's output stays as it is."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)()
    return getattr(shell, "kernel", None) is not None


if _in_a_notebook():
    from .notebook import install

    install()
