"""The async core: sessions, calls, the one reader of a session's event stream, and the
process's runtime. Knows nothing of the CLI or the holder process (see `runtime.HolderPort`)."""
