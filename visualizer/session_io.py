"""The app <-> a session file, headless: what is on screen, panel settings, bookmarks and timeline in; the same out.

Panels take part by defining `panel_settings() -> dict` (plain JSON values) and `apply_panel_settings(d)`;
the bookmarks panel owns the bookmarks and the timeline panel the timeline (keys are bookmarks too). Opening a
session sets the window's request, loads the session's network when it differs from the one shown, and hands each panel
its settings back.
"""

from __future__ import annotations

from pathlib import Path

from stylegan3.documents.session import SUFFIX, Session, load_session, save_session

BOOKMARKS_PANEL = "bookmarks"
TIMELINE_PANEL = "timeline"


def current_source(app) -> str:
    return app.network.source if app.network is not None else "demo"


def session_from_app(app) -> Session:
    panels = {}
    for w in app.widgets:
        get = getattr(w, "panel_settings", None)
        if callable(get):
            panels[w.key] = get()
    marks = app.widget(BOOKMARKS_PANEL)
    bookmarks = tuple(marks.bookmarks) if marks is not None else ()
    timeline_panel = app.widget(TIMELINE_PANEL)
    timeline = None
    if timeline_panel is not None and timeline_panel.timeline.keyframes:
        timeline = timeline_panel.timeline.copy()
        timeline.network = current_source(app)
    return Session(request=app.current_request(), panels=panels, bookmarks=bookmarks, timeline=timeline)


def apply_session(app, session: Session) -> None:
    """Show what the session shows (the network loads in the background when it is another one)."""
    apply_request(app, session.request)
    for w in app.widgets:
        put = getattr(w, "apply_panel_settings", None)
        if callable(put) and w.key in session.panels:
            put(session.panels[w.key])
    marks = app.widget(BOOKMARKS_PANEL)
    if marks is not None:
        marks.bookmarks = list(session.bookmarks)
    timeline_panel = app.widget(TIMELINE_PANEL)
    if timeline_panel is not None:
        timeline_panel.set_timeline(session.timeline.copy() if session.timeline is not None else None)


def apply_request(app, request) -> None:
    app.request = request
    if request.network.source != current_source(app):
        app.load_network(request.network.source)


def save_app_session(app, path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.name.endswith(SUFFIX):
        p = p.with_name(p.name + SUFFIX) if not p.suffix else p.with_suffix(SUFFIX)
    return save_session(p, session_from_app(app))


def open_app_session(app, path: str | Path) -> Session:
    info = getattr(app, "info", None)
    session = load_session(Path(path).expanduser(), num_ws=info.num_ws if info is not None else None)
    apply_session(app, session)
    marks = app.widget(BOOKMARKS_PANEL)
    if marks is not None:  # the path field names the file shown (`gui --session FILE` included), not the default
        marks.path = str(path)
    return session
