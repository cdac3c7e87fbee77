"""Render service: one interface (`RenderBackend`) with a thread, a child-process and a remote (pyzmq) backend.

The renderer owns the network; callers send `RenderRequest`s and get `FrameResult`s and `NetworkInfo`s back,
so where the network lives (this process, a child that may crash, a GPU machine over SSH) is a choice of
backend, not of code. See docs/ARCHITECTURE.md ("Render service").
"""
