"""Equivariance panel (StyleGAN3): translate / rotate the Fourier input, untransform the output, live metrics.

Translate is in image widths (official viewer convention: +x moves the content right), rotate in turns.
Untransform and the difference view are render stages (`stylegan3.render.views`); the metrics EQ-T, EQ-T_frac
and EQ-R of the current latent run as a job of the context (`visualizer.network_jobs`: the backend's
`eq_metrics` analysis, wherever the network lives), never on the GUI thread.
"""

from __future__ import annotations

import math

from imgui_bundle import imgui

from sg3_explorer.visualizer.jobs import JobSlot
from sg3_explorer.visualizer.network_jobs import equivariance_job
from sg3_explorer.widgets.applicability import without_transform
from sg3_explorer.widgets.base import Widget
from sg3_explorer.widgets.sliders import slider_float
from stylegan3.documents.request import UNTRANSFORM_VIEWS, RenderRequest, Transform
from stylegan3.metrics.equivariance import METRIC_LABELS, METRICS

DRAG_FAST = 0.01  # image widths per mouse pixel (100 px move the content one image)
DRAG_SLOW = 0.0005
DRAG_ROTATE = 0.001  # turns per mouse pixel


def round_to_pixels(translate: tuple[float, float], resolution: int) -> tuple[float, float]:
    """Nearest translation by whole output pixels (then EQ-T's integer shift is the exact reference)."""
    return tuple(round(v * resolution) / resolution for v in translate)


class EquivarianceWidget(Widget):
    title = "Equivariance"
    default_open = False

    def __init__(self, app) -> None:
        super().__init__(app)
        self.anim_t = False
        self.speed_t = 0.05  # image widths per second
        self.anim_r = False
        self.speed_r = 0.05  # turns per second
        self.round_px = False
        self.live = False
        self.job = JobSlot()
        self.metrics: dict[str, float] | None = None
        self.metrics_key: RenderRequest | None = None
        self._job_key: RenderRequest | None = None

    # -- the view -------------------------------------------------------------------------------------------
    @property
    def supported(self) -> bool:
        info = self.app.info
        return info is not None and info.capabilities.input_transform

    def visible(self) -> bool:
        return self.app.info is not None

    @property
    def animating(self) -> bool:
        return self.supported and (self.anim_t or self.anim_r or self.job.busy)

    def on_network(self) -> None:
        self.job.cancel()
        self.metrics, self.metrics_key = None, None
        if not self.supported:
            self.app.request = self.request.replace(transform=Transform()).edit("untransform", enabled=False)
            self.anim_t = self.anim_r = False

    def update(self, dt: float) -> None:
        if not self.supported:
            return
        t = self.request.transform
        translate, rotate = t.translate, t.rotate
        if self.anim_t:
            translate = (translate[0] + self.speed_t * dt, translate[1])
        if self.anim_r:
            rotate = rotate + self.speed_r * dt
        if self.round_px:
            translate = round_to_pixels(translate, self.app.info.resolution)
        if (translate, rotate) != (t.translate, t.rotate):
            self.edit("transform", translate=translate, rotate=rotate)
        self._poll_metrics()

    def latent(self) -> RenderRequest:
        """What the metrics depend on and are cached by: the shown request's latent part (explicit latent and
        direction moves included), not the transform or view on screen."""
        return self.app.current_request().latent_part()

    def start_metrics(self) -> bool:
        if self.app.info is None or not self.supported:
            return False
        key = self.latent()
        if self.app.start_job(self.job, equivariance_job(key)):
            self._job_key = key
            return True
        return False

    def _poll_metrics(self) -> None:
        ok, result = self.job.poll()
        if ok:
            self.metrics, self.metrics_key = result, self._job_key
        failed = self.job.error is not None and self.job.error != "cancelled"  # retry only on Compute
        if self.live and not self.job.busy and not failed and self.metrics_key != self.latent():
            self.start_metrics()

    # -- drawing ----------------------------------------------------------------------------------------------
    def draw(self) -> None:
        why = without_transform(self.app.info, "its equivariance cannot be probed")
        if why is not None:
            imgui.text_wrapped(why)
            return
        self._translate()
        imgui.separator()
        self._rotate()
        imgui.separator()
        self._untransform()
        imgui.separator()
        self._metrics()

    def _drag_button(self, label: str, per_px: float, axis2: bool) -> None:
        imgui.button(label)
        if imgui.is_item_active():
            d = imgui.get_io().mouse_delta
            t = self.request.transform
            if d.x or d.y:
                if axis2:
                    self.edit("transform", translate=(t.translate[0] + d.x * per_px, t.translate[1] + d.y * per_px))
                else:
                    self.edit("transform", rotate=t.rotate + d.x * per_px)
        if imgui.is_item_hovered():
            imgui.set_tooltip("Hold and move the mouse")

    def _translate(self) -> None:
        w = imgui.get_font_size() * 6
        x, y = self.request.transform.translate
        imgui.text("Translate")
        imgui.same_line()
        imgui.set_next_item_width(w)
        changed_x, x = imgui.drag_float("X##xlate", x, 0.001, format="%.4f")
        imgui.same_line()
        imgui.set_next_item_width(w)
        changed_y, y = imgui.drag_float("Y##xlate", y, 0.001, format="%.4f")
        if changed_x or changed_y:
            self.edit("transform", translate=(float(x), float(y)))
        self._drag_button("Drag fast##xlate", DRAG_FAST, True)
        imgui.same_line()
        self._drag_button("Drag slow##xlate", DRAG_SLOW, True)
        imgui.same_line()
        if imgui.button("Reset##xlate"):
            self.edit("transform", translate=(0.0, 0.0))
            self.anim_t = False
        _, self.round_px = imgui.checkbox("Round to whole pixels##xlate", self.round_px)
        _, self.anim_t = imgui.checkbox("Anim##xlate", self.anim_t)
        imgui.same_line()
        imgui.set_next_item_width(imgui.get_font_size() * 9)
        _, self.speed_t = slider_float("Speed##xlate", self.speed_t, 0.001, 1.0, "%.3f img/s",
                                             imgui.SliderFlags_.logarithmic)
        res, (x, y) = self.app.info.resolution, self.request.transform.translate
        imgui.text_disabled(f"= ({x * res:.2f}, {y * res:.2f}) px")

    def _rotate(self) -> None:
        imgui.set_next_item_width(imgui.get_font_size() * 8)
        changed, r = imgui.drag_float("Rotate (turns)##rot", self.request.transform.rotate, 0.001, format="%.4f")
        if changed:
            self.edit("transform", rotate=float(r))
        imgui.same_line()
        imgui.text_disabled(f"{self.request.transform.rotate * 360:.1f} deg")
        self._drag_button("Drag##rot", DRAG_ROTATE, False)
        imgui.same_line()
        if imgui.button("Reset##rot"):
            self.edit("transform", rotate=0.0)
            self.anim_r = False
        imgui.same_line()
        _, self.anim_r = imgui.checkbox("Anim##rot", self.anim_r)
        imgui.same_line()
        imgui.set_next_item_width(imgui.get_font_size() * 4)  # its value and unit follow it
        _, self.speed_r = slider_float("Speed##rot", self.speed_r, 0.001, 1.0, "%.3f turn/s",
                                             imgui.SliderFlags_.logarithmic)

    def _untransform(self) -> None:
        ut = self.request.untransform
        changed, on = imgui.checkbox("Untransform", ut.enabled)
        if changed:
            self.edit("untransform", enabled=on)
        if imgui.is_item_hovered():
            imgui.set_tooltip("Warp the output back by the inverse transform (windowed-sinc resampling): a "
                              "perfectly equivariant network shows a still image")
        for v in UNTRANSFORM_VIEWS:
            imgui.same_line()
            if imgui.radio_button(f"{v}##ut", ut.view == v):
                self.edit("untransform", view=v)
        if ut.view == "difference":
            imgui.set_next_item_width(imgui.get_font_size() * 8)
            changed, g = slider_float("Diff gain##ut", float(ut.diff_gain_db), 0.0, 60.0, "%.0f dB")
            if changed:
                self.edit("untransform", diff_gain_db=float(g))
            res = self.app.last_result
            shown = res is not None and res.request == self.request.for_frame()
            psnr = res.extras.get("residual_psnr") if shown else None
            if self.request.untransform.enabled and psnr is not None:
                imgui.same_line()
                imgui.text(f"residual {psnr:.1f} dB")

    def _metrics(self) -> None:
        imgui.text("Metrics (this latent)")
        imgui.same_line()
        _, self.live = imgui.checkbox("Live##eq", self.live)
        imgui.same_line()
        if imgui.button("Compute##eq"):
            self.start_metrics()
        if self.job.busy:
            imgui.progress_bar(self.job.fraction, imgui.ImVec2(-1, 0), f"{self.job.count}/{self.job.total} renders")
        elif self.job.error:
            imgui.text_colored(imgui.ImVec4(1.0, 0.45, 0.4, 1.0), f"metrics failed: {self.job.error}")
        if self.metrics is None:
            imgui.push_style_color(imgui.Col_.text, imgui.get_style_color_vec4(imgui.Col_.text_disabled))
            imgui.text_wrapped("press Compute (or tick Live) to measure EQ-T, EQ-T_frac and EQ-R of this latent")
            imgui.pop_style_color()
            return
        stale = self.metrics_key != self.latent()
        if imgui.begin_table("##eqmetrics", len(METRICS), imgui.TableFlags_.borders_inner_v):
            for m in METRICS:
                imgui.table_setup_column(METRIC_LABELS[m])
            imgui.table_headers_row()
            imgui.table_next_row()
            for m in METRICS:
                imgui.table_next_column()
                imgui.text(f"{self.metrics.get(m, math.nan):.2f} dB")
            imgui.end_table()
        imgui.text_disabled("PSNR, one random transform each" + (" (for an earlier latent)" if stale else ""))


WIDGET = EquivarianceWidget
