"""The explorer in a browser: `sg3-explorer web` serves a page of our own that is a client of the render service.

`server` (aiohttp: the page, its files and one WebSocket per tab), `session` (one tab: its frame channel and
its messages), `catalog` (which networks the page may offer), `cli` (the `web` command), `notebook`
(`show()` in a Jupyter output cell). The page itself is `static/` (plain HTML, CSS and JavaScript, no CDN).
"""
