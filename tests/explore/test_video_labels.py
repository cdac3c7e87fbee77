"""Pane labels fit narrow panes (a 64 px fixture net) by layout before anything is cut off."""

from __future__ import annotations

import numpy as np

from stylegan3.explore.video import LABEL_HEIGHT, draw_label, fit_label


def test_fixture_size_label_is_complete_on_two_lines():
    assert fit_label(64, "sg3t.pkl (SG3-T 64px)") == (["sg3t.pkl", "SG3-T 64px"], 11)
    assert fit_label(64, "sg2.pkl (SG2 64px)") == (["sg2.pkl", "SG2 64px"], 11)
    strip = draw_label(64, "sg3t.pkl (SG3-T 64px)")
    assert strip.shape == (LABEL_HEIGHT, 64, 3)
    bright_rows = np.flatnonzero((strip > 150).any(axis=(1, 2)))
    half = LABEL_HEIGHT // 2
    assert bright_rows.min() < half - 2 and bright_rows.max() > half + 2  # text above and below the middle
    assert not (strip[:, -2:] > 150).any()  # nothing runs into the right edge


def test_wide_panes_keep_one_line_and_long_names_shorten_in_order():
    assert fit_label(256, "sg3t.pkl (SG3-T 64px)") == (["sg3t.pkl (SG3-T 64px)"], 14)
    assert fit_label(64, "stylegan3-t-a.safetensors (SG3-T 256px)") == (["stylegan3-t-a", "SG3-T 256px"], 9)
    lines, size = fit_label(64, "stylegan3-t-ffhqu-256x256.pkl (SG3-T 256px)")
    assert lines == ["stylegan3-t-ffh\u2026", "SG3-T 256px"] and size == 8  # cut only when no layout fits
    assert fit_label(200, "sticking 0.123 in 64 frames") == (["sticking 0.123 in 64 frames"], 14)
    assert fit_label(128, "sticking 0.123 in 64 frames") == (["sticking 0.123", "in 64 frames"], 11)  # mid space
    assert fit_label(64, "sticking 0.123") == (["sticking", "0.123"], 11)
