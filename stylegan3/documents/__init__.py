"""Request documents: the typed, JSON-exact files people keep and exchange (request, bookmarks, session, timeline)."""
