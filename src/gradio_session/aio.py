"""The async API, for services and notebooks with a running loop: `await aio.new_session(url)`.

The same names and shapes as the sync API; both run the one implementation in `core/`. This
module also wires the core to the background holder (`holder`), which the core never imports.
"""

from .core.call import AsyncCall as Call
from .core.family import (
    duplicate_space, get_session, list_sessions, local_file, new_session, remove_session, set_default, set_options,
)
from .core.runtime import Watch, Watching, runtime  # noqa: F401 - the types of watch_calls
from .core.session import AsyncSession as Session
from .holder import HolderProcesses

runtime().use_holders(HolderProcesses())


def watch_calls(watch: Watch | None) -> None:
    """How a blocking wait for a call (`call`, `result()`, sync or async) shows itself:
    `watch(call)` gives a `Watching` told each event and then the end, or None to show nothing.
    In a Jupyter kernel `import gradio_session` sets the notebook's display; None turns it off."""
    runtime().watch = watch


__all__ = [
    "Call", "Session", "duplicate_space", "get_session", "list_sessions", "local_file",
    "new_session", "remove_session", "set_default", "set_options", "watch_calls",
]
