"""SG3 Explorer's desktop app: window shell, image view, and the background renderer and network loader.

`renderer`, `async_renderer`, `network_loader`, `state`, `view`, `settings` and `capture` are free of GUI imports
(headless, testable); `app`, `image_view` and `texture` need imgui-bundle and an OpenGL context.
"""
