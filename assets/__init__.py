"""Data files shipped with SG3 Explorer (fonts, icons); importable so installed copies can find them."""

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
