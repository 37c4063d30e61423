"""The async API, for services and notebooks with a running loop: `await aio.new_session(url)`.

The same names and shapes as the sync API; both run the one implementation in `session.py`.
"""

from .session import (
    AsyncCall as Call,
    AsyncSession as Session,
    get_session,
    list_sessions,
    new_session,
    remove_session,
    set_default,
    set_options,
)

__all__ = [
    "Call", "Session", "get_session", "list_sessions", "new_session", "remove_session",
    "set_default", "set_options",
]
