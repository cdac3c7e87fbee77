"""The panels' sliders: the value is written beside the slider (after its label), never under the grab.

imgui prints a slider's value centred inside the frame, where the grab passes over it: at most positions the
handle covers part of the number, and a unit suffix ("0.25 seeds/s") does not fit a narrow slider. Here the
frame shows only the grab, and the formatted value follows the label as plain text. While the user types a
value (ctrl+click), the real format is passed again so the text field shows and parses the number.
"""

from __future__ import annotations

from imgui_bundle import imgui


def value_text(fmt: str, value: float) -> str:
    """`value` through a printf format as imgui would show it ("%.2f seeds/s", "first %d ws", "all ws")."""
    if "%" not in fmt.replace("%%", ""):
        return fmt.replace("%%", "%")
    try:
        return fmt % value
    except (TypeError, ValueError):
        return str(value)


def _format_now(label: str, fmt: str) -> str:
    """The format for this frame: the real one while the slider is a text field (ctrl+click), else none."""
    return fmt if imgui.internal.temp_input_is_active(imgui.get_id(label)) else ""


def _beside(text: str) -> None:
    imgui.same_line(0, imgui.get_style().item_inner_spacing.x)
    imgui.text(text)


def slider_float(
    label: str, value: float, v_min: float, v_max: float, fmt: str = "%.2f", flags: int = 0
) -> tuple[bool, float]:
    """`imgui.slider_float` with the value beside it; same arguments and result."""
    changed, value = imgui.slider_float(label, value, v_min, v_max, _format_now(label, fmt), flags)
    _beside(value_text(fmt, value))
    return changed, value


def slider_int(label: str, value: int, v_min: int, v_max: int, fmt: str = "%d", flags: int = 0) -> tuple[bool, int]:
    """`imgui.slider_int` with the value beside it; same arguments and result."""
    changed, value = imgui.slider_int(label, value, v_min, v_max, _format_now(label, fmt), flags)
    _beside(value_text(fmt, value))
    return changed, value
