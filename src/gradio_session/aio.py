"""The async API, for services and notebooks with a running loop: `await aio.new_session(url)`.

The same names and shapes as the sync API; both run the one implementation in `core/`. This
module also wires the core to the background holder (`holder`), which the core never imports.
"""

from .core.call import AsyncCall as Call
from .core.family import (
    duplicate_space, get_session, list_sessions, new_session, remove_session, set_default, set_options,
)
from .core.runtime import runtime
from .core.session import AsyncSession as Session
from .holder import HolderProcesses

runtime().use_holders(HolderProcesses())

__all__ = [
    "Call", "Session", "duplicate_space", "get_session", "list_sessions", "new_session", "remove_session",
    "set_default", "set_options",
]
