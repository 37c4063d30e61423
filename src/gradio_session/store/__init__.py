"""The store: what outlives a process. The SQLite repository of sessions, calls, events and
uploads (`repository`, over `database`), the worker thread the async core uses to reach it
(`worker`), and the secrets kept outside it (`secrets`). No network."""
