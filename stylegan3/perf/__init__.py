"""Performance: the `bench` command, the per-frame floor model, and out-of-memory reporting."""
