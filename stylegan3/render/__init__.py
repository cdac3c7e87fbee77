"""Request -> frame, with no GUI code: the one render path of every backend (thread, child process, server)."""
