"""SG3 Explorer's desktop app: the session over a render backend (`explorer`), the window shell and image view.

`explorer`, `backend_renderer`, `loader`, `network_jobs`, `state`, `view`, `settings` and `capture` are free of
GUI drawing (headless, testable); `app`, `image_view` and `texture` need imgui-bundle and an OpenGL context.
"""
