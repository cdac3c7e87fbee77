"""User settings persisted between sessions (window size, recent networks, panel state, capture folder...).

Stored as JSON in the platform's config folder (`$SG3_CONFIG_DIR` overrides it, which the tests use). A missing,
unreadable or malformed file silently gives defaults: settings are a convenience and must never stop the app.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

MAX_RECENT = 12
UI_SCALE_RANGE = (0.5, 3.0)


def clamp_ui_scale(scale: float) -> float:
    """A UI scale the window can show (a typo in the settings file must not make the text unreadable)."""
    return float(min(max(float(scale), UI_SCALE_RANGE[0]), UI_SCALE_RANGE[1]))


def config_dir() -> Path:
    """Where settings live: $SG3_CONFIG_DIR, else the OS convention (XDG on Linux)."""
    if os.environ.get("SG3_CONFIG_DIR"):
        return Path(os.environ["SG3_CONFIG_DIR"])
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "sg3-explorer"


def default_capture_dir() -> str:
    return str(Path.home() / "Pictures" / "sg3-explorer")


@dataclass
class Settings:
    window_size: tuple[int, int] = (1280, 800)
    recent: list[str] = field(default_factory=list)
    panels_open: dict[str, bool] = field(default_factory=dict)
    capture_dir: str = field(default_factory=default_capture_dir)
    ui_scale: float = 1.0  # times the monitor's content scale (which hello_imgui applies): View > UI scale
    fps_limit: int = 60
    vsync: bool = True
    force_fp32: bool = False
    cuda_graphs: bool = True
    browse_dir: str = ""

    def add_recent(self, source: str) -> None:
        """Most recent first, no duplicates, bounded; the demo net is always available anyway."""
        source = str(source)
        if source == "demo":
            return
        self.recent = [source] + [r for r in self.recent if r != source]
        del self.recent[MAX_RECENT:]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_dict(cls, data: object) -> Settings:
        """Keep only known keys of the right type; anything odd falls back to the default."""
        s = cls()
        if not isinstance(data, dict):
            return s
        if "ui_scale" not in data and "font_scale" in data:  # the name before the UI scale setting
            data = {**data, "ui_scale": data["font_scale"]}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value, default = data[f.name], getattr(s, f.name)
            if isinstance(default, tuple):
                if isinstance(value, list) and len(value) == len(default) and all(isinstance(v, int) for v in value):
                    setattr(s, f.name, tuple(max(200, min(v, 16384)) for v in value))
            elif isinstance(default, list):
                if isinstance(value, list):
                    setattr(s, f.name, [str(v) for v in value if isinstance(v, str)][:MAX_RECENT])
            elif isinstance(default, dict):
                if isinstance(value, dict):
                    setattr(s, f.name, {str(k): bool(v) for k, v in value.items()})
            elif isinstance(default, bool):
                if isinstance(value, bool):
                    setattr(s, f.name, value)
            elif isinstance(default, (int, float)) and isinstance(value, (int, float)) and not isinstance(value, bool):
                setattr(s, f.name, type(default)(value))
            elif isinstance(default, str) and isinstance(value, str):
                setattr(s, f.name, value)
        s.ui_scale = clamp_ui_scale(s.ui_scale)
        return s


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    path = settings_path() if path is None else path
    try:
        return Settings.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return Settings()


def save_settings(settings: Settings, path: Path | None = None) -> bool:
    """Write atomically (temp file + rename); False if the folder is not writable."""
    path = settings_path() if path is None else path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(settings.to_json(), encoding="utf-8")
        os.replace(tmp, path)
        return True
    except OSError:
        return False
