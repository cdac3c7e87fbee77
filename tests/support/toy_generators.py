"""Constructed generators with known texture sticking, for the sticking, trace and video tests.

Each toy net draws a smooth "content" pattern shifted by w[0:2] * `shift_px` pixels plus fine "texture".
A fraction `stuck` of the texture energy is evaluated at pixel coordinates (glued to the grid, like
StyleGAN2's leaked positional detail); the rest at content coordinates (it moves exactly with the
content, like an ideal alias-free generator). All patterns are sinusoids with a whole number of cycles
per image, so a sub-pixel shift is exact and no energy leaks between frequency bands: the sticking score
of a toy net should come out as `stuck`.
"""

from __future__ import annotations

import math

import torch

CONTENT_CYCLES = [(1, 2), (3, -1), (2, 3)]  # cycles per image (x, y): well below the 0.25 * Nyquist cutoff
# Fine texture, at 64 px radial 0.5-0.7 Nyquist; stuck and moving parts on different frequencies so their
# energies simply add (no cross terms that would change with the shift).
STUCK_CYCLES = [(14, 9), (-11, 17), (19, -6), (8, 21)]
MOVING_CYCLES = [(16, 7), (-9, 18), (20, -4), (6, 20)]


class _ToyMapping(torch.nn.Module):
    def __init__(self, z_dim: int, num_ws: int) -> None:
        super().__init__()
        self.z_dim, self.num_ws = z_dim, num_ws

    def forward(self, z, c, truncation_psi=1.0, truncation_cutoff=None):
        w = z.to(torch.float32)[:, None, :].repeat(1, self.num_ws, 1)
        cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
        w[:, :cut] = w[:, :cut] * truncation_psi  # the toy's average w is zero
        return w


class _ToySynthesis(torch.nn.Module):
    def __init__(self, res: int, stuck: float, shift_px: float, phase_seed: int) -> None:
        super().__init__()
        self.res, self.shift_px = res, shift_px
        self.stuck_amp, self.moving_amp = math.sqrt(stuck), math.sqrt(1.0 - stuck)
        gen = torch.Generator().manual_seed(phase_seed)
        self.register_buffer("content_phase", torch.rand([3, len(CONTENT_CYCLES)], generator=gen) * 2 * math.pi)
        self.register_buffer("stuck_phase", torch.rand([3, len(STUCK_CYCLES)], generator=gen) * 2 * math.pi)
        self.register_buffer("moving_phase", torch.rand([3, len(MOVING_CYCLES)], generator=gen) * 2 * math.pi)
        self.register_buffer("dummy", torch.zeros([]))

    def _waves(self, x, y, cycles, phase, amp):
        # x, y: [N, 1, H, W] in pixels; returns [N, 3, H, W]
        out = 0
        for i, (cx, cy) in enumerate(cycles):
            arg = 2 * math.pi * (cx * x + cy * y) / self.res
            out = out + amp * torch.cos(arg + phase[None, :, i, None, None])
        return out

    def forward(self, ws, noise_mode="const", force_fp32=False):
        n = ws.shape[0]
        coords = torch.arange(self.res, dtype=torch.float32, device=ws.device)
        y, x = torch.meshgrid(coords, coords, indexing="ij")
        x, y = x[None, None].expand(n, 1, -1, -1), y[None, None].expand(n, 1, -1, -1)
        shift = ws[:, 0, :2].to(torch.float32) * self.shift_px
        cx, cy = x - shift[:, 0, None, None, None], y - shift[:, 1, None, None, None]
        tex_amp = 0.35 / math.sqrt(len(STUCK_CYCLES))
        img = self._waves(cx, cy, CONTENT_CYCLES, self.content_phase, 0.5 / math.sqrt(len(CONTENT_CYCLES)))
        img = img + self._waves(x, y, STUCK_CYCLES, self.stuck_phase, tex_amp * self.stuck_amp)
        img = img + self._waves(cx, cy, MOVING_CYCLES, self.moving_phase, tex_amp * self.moving_amp)
        return img


class ToyGenerator(torch.nn.Module):
    """Exposes the generator API (`mapping`, `synthesis`, sizes) around the toy drawing above."""

    def __init__(self, stuck: float, res: int = 64, z_dim: int = 8, num_ws: int = 4, shift_px: float = 8.0,
                 phase_seed: int = 0) -> None:
        super().__init__()
        self.z_dim = self.w_dim = z_dim
        self.c_dim = 0
        self.num_ws = num_ws
        self.img_resolution = res
        self.img_channels = 3
        self.init_kwargs = {"stuck": stuck, "res": res}
        self.mapping = _ToyMapping(z_dim, num_ws)
        self.synthesis = _ToySynthesis(res, stuck, shift_px, phase_seed)

    def forward(self, z, c, truncation_psi=1.0, truncation_cutoff=None, noise_mode="const", force_fp32=False):
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, force_fp32=force_fp32)
