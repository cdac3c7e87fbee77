"""Drag to edit (the DragGAN method): move handle points of a generated image onto target points by optimizing
the first ws of W+, with motion supervision on intermediate features and point tracking by nearest feature.

One step, as the paper describes it (Pan et al., "Drag Your GAN", SIGGRAPH 2023), on the features `F` of one
synthesis layer (chosen per family: `Family.drag_layer`, docs/DRAG.md), cropped to the image's area and resized
to the image's pixels:

- point tracking: each handle's new position is the pixel, within a square of half-width `track_radius` around
  where it was, whose feature is nearest (L1) to the handle's feature in the *first* image;
- motion supervision: for every pixel q within `patch_radius` of a handle p (direction d = unit vector towards
  the target), the feature at q + d (sampled bilinearly, with gradient) is pulled towards the feature at q
  (detached): the content around p moves one pixel towards the target per step;
- an optional mask (1 = may change) adds `mask_weight` * the L1 distance of the features outside it to the
  first image's features, so the rest of the image stays;
- only the first `layers` ws get gradients (DragGAN: 6), the others stay; Adam on those ws.

Features come from synthesis' `capture` argument (never a hook), and only the latent gets gradients: the
network is neither modified nor given `.grad`, so a backend drags with the network it renders with.
Coordinates are image pixels (x = column, y = row; 0 .. resolution - 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from stylegan3.errors import SG3Error

Point = tuple[float, float]


@dataclass(frozen=True)
class FeatureLayer:
    """The layer drag reads: its capture name, the margin cropped from each side (SG3 layers carry an extra
    border around the image's area) and its size before the crop."""

    name: str
    margin: int
    size: int


def feature_layer(G: torch.nn.Module) -> FeatureLayer:
    """The family's drag layer of `G` (`Family.drag_layer`); a one-line SG3Error for families without one."""
    from stylegan3 import families
    from stylegan3.networks.layers import list_layers

    family = families.family_of(G)
    if family is None or family.drag_layer is None:
        raise SG3Error(f"drag needs a StyleGAN3 or StyleGAN2 network; this one is {families.variant(G)}")
    layers = list_layers(G)
    name = family.drag_layer(layers, int(G.img_resolution))
    info = next(layer for layer in layers if layer.name == name)
    rate = info.sampling_rate if info.sampling_rate is not None else info.width
    margin = max(0, int(round((info.width - rate) / 2)))
    return FeatureLayer(name, margin, int(info.width))


def image_features(raw: torch.Tensor, layer: FeatureLayer, resolution: int) -> torch.Tensor:
    """A captured layer output `[N, C, S, S]` as features on the image's pixel grid `[N, C, R, R]` (float32):
    the margin cropped, then resized bilinearly (pixel centres aligned, as `F.interpolate` without corners)."""
    x = raw.float()
    if layer.margin:
        x = x[:, :, layer.margin : x.shape[2] - layer.margin, layer.margin : x.shape[3] - layer.margin]
    if x.shape[-2:] != (resolution, resolution):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
    return x


def track_points(
    features: torch.Tensor, references: torch.Tensor, points: Sequence[tuple[int, int]], radius: int
) -> list[tuple[int, int]]:
    """Each point's new position: the pixel within the square of half-width `radius` around it (clipped to the
    image) whose feature `features[0, :, y, x]` is nearest in L1 to its reference feature (`references[i]`,
    `[C]`). Ties go to the first pixel in row-major order."""
    _, _, height, width = features.shape
    out = []
    with torch.no_grad():
        for (x, y), ref in zip(points, references, strict=True):
            top, bottom = max(0, y - radius), min(height, y + radius + 1)
            left, right = max(0, x - radius), min(width, x + radius + 1)
            patch = features[0, :, top:bottom, left:right]
            dist = (patch - ref.to(patch.dtype)[:, None, None]).abs().sum(dim=0)
            idx = int(torch.argmin(dist.reshape(-1)))
            out.append((left + idx % (right - left), top + idx // (right - left)))
    return out


def _disc(point: tuple[int, int], radius: float, size: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """The integer pixels (xs, ys) within `radius` of `point` and inside the image."""
    r = int(math.ceil(radius))
    offsets = torch.arange(-r, r + 1, device=device)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    keep = (dx.square() + dy.square()).float() < radius * radius
    xs, ys = dx[keep] + point[0], dy[keep] + point[1]
    inside = (xs >= 0) & (xs < size) & (ys >= 0) & (ys < size)
    return xs[inside], ys[inside]


def motion_loss(
    features: torch.Tensor,
    points: Sequence[tuple[int, int]],
    targets: Sequence[Point],
    radius: float,
    reached: float = 0.0,
) -> torch.Tensor:
    """The motion-supervision loss: for each handle farther than `reached` from its target, the mean L1
    distance between the features one pixel towards the target (bilinear, with gradient) and the features at
    the disc of `radius` around the handle (detached). Zero (with a graph) when every handle has arrived."""
    _, _, height, width = features.shape
    total = features.sum() * 0.0
    for point, target in zip(points, targets, strict=True):
        d = torch.tensor([target[0] - point[0], target[1] - point[1]], dtype=torch.float32)
        dist = float(d.norm())
        if dist <= reached or dist == 0.0:
            continue
        d = (d / dist).to(features.device)
        xs, ys = _disc(point, radius, width, features.device)
        gx = (xs.float() + d[0]) / max(width - 1, 1) * 2 - 1
        gy = (ys.float() + d[1]) / max(height - 1, 1) * 2 - 1
        grid = torch.stack([gx, gy], dim=-1)[None, None]  # [1, 1, K, 2]
        moved = F.grid_sample(features, grid, mode="bilinear", padding_mode="border", align_corners=True)[:, :, 0]
        here = features[:, :, ys, xs].detach()
        total = total + F.l1_loss(moved, here)
    return total


def mask_loss(features: torch.Tensor, first: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean L1 distance of the features outside the mask (mask 0) to the first image's features."""
    keep = (1.0 - mask)[None, None]
    return F.l1_loss(features * keep, first * keep)


@dataclass
class DragStep:
    """The state after `step` updates: the tracked handle positions, the losses at them (motion supervision and
    the total with the mask term), the ws `[1, num_ws, w_dim]` and image `[1, C, H, W]` (CPU tensors). The last
    step yielded is the result (`done`): every handle reached, the step budget spent, or stopped."""

    step: int
    steps: int
    loss: float
    motion: float
    points: list[tuple[int, int]]
    ws: torch.Tensor
    image: torch.Tensor
    done: bool = False
    reached: bool = False


def check_points(handles: Sequence[Point], targets: Sequence[Point], resolution: int) -> None:
    """One-line SG3Error for no pairs, unequal lists, or a point outside the image (0 .. resolution - 1)."""
    if not handles:
        raise SG3Error("drag needs at least one handle point and its target")
    if len(handles) != len(targets):
        raise SG3Error(f"{len(handles)} handle points but {len(targets)} targets")
    top = resolution - 1
    for i, pair in enumerate(zip(handles, targets, strict=True), 1):
        for what, (x, y) in zip(("handle", "target"), pair, strict=True):
            if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= top and 0 <= y <= top):
                raise SG3Error(
                    f"point {i}: {what} ({x:g}, {y:g}) is outside the {resolution}x{resolution} image "
                    f"(x and y in 0..{top})"
                )


def check_mask(mask: np.ndarray | torch.Tensor | None, resolution: int) -> torch.Tensor | None:
    """The mask as a float32 `[R, R]` tensor of 0 / 1 (1 = may change), or None for no mask; one-line
    SG3Error for a wrong size or a mask that leaves nothing free to move."""
    if mask is None:
        return None
    m = torch.as_tensor(np.asarray(mask)).float()
    if tuple(m.shape) != (resolution, resolution):
        raise SG3Error(f"mask of shape {tuple(m.shape)}, the network draws {resolution}x{resolution}")
    m = (m > 0.5).float()
    if not bool(m.any()):
        raise SG3Error("the mask is empty: paint the region that may change")
    return None if bool(m.all()) else m


def drag(
    G: torch.nn.Module,
    ws: torch.Tensor,
    handles: Sequence[Point],
    targets: Sequence[Point],
    mask: np.ndarray | torch.Tensor | None = None,
    steps: int = 200,
    lr: float = 0.002,
    layers: int = 6,
    patch_radius: float | None = None,
    track_radius: int | None = None,
    mask_weight: float = 10.0,
    reached: float = 1.0,
    transform: torch.Tensor | np.ndarray | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[DragStep]:
    """Drag `handles` onto `targets` (pixels, see the module) starting from `ws` `[1, num_ws, w_dim]`; yields the
    state before any update and after each one (see `DragStep`).

    Stops when every tracked handle is within `reached` pixels of its target, after `steps` updates, or when
    `should_stop()` says so (checked before each update; the last yielded step is then the result).
    `patch_radius` / `track_radius` default to DragGAN's 3 and 12 pixels at 512², scaled to the network's
    resolution (at least 2 and 3 pixels). `progress(done, steps)` is told after each step.
    """
    from stylegan3.networks.device import device_of

    res = int(G.img_resolution)
    check_points(handles, targets, res)
    if not 1 <= int(steps) <= 100_000:
        raise SG3Error(f"steps {steps} outside 1..100000")
    if not (math.isfinite(lr) and lr > 0):
        raise SG3Error("learning rate must be a positive number")
    num_ws = int(G.num_ws)
    if not 1 <= int(layers) <= 10_000:
        raise SG3Error(f"layers {layers}: optimize at least the first ws")
    k = min(int(layers), num_ws)
    free = check_mask(mask, res)
    layer = feature_layer(G)
    device = device_of(G)
    r1 = float(patch_radius) if patch_radius is not None else max(2.0, round(3 / 512 * res))
    r2 = int(track_radius) if track_radius is not None else max(3, round(12 / 512 * res))
    if free is not None:
        free = free.to(device)
    ws0 = ws.detach().to(device=device, dtype=torch.float32)
    if tuple(ws0.shape) != (1, num_ws, int(G.w_dim)):
        raise SG3Error(f"ws of shape {tuple(ws0.shape)}, the network takes {(1, num_ws, int(G.w_dim))}")
    head = ws0[:, :k].clone().requires_grad_(True)
    tail = ws0[:, k:]
    opt = torch.optim.Adam([head], lr=lr)
    goals = [(float(x), float(y)) for x, y in targets]
    points = [(int(round(x)), int(round(y))) for x, y in handles]
    references = first = None

    def current() -> torch.Tensor:
        return torch.cat([head, tail], dim=1)

    with torch.enable_grad():
        for step in range(int(steps) + 1):
            img, kept = G.synthesis(
                current(),
                capture=[layer.name],
                noise_mode="const",
                force_fp32=True,
                **({} if transform is None else {"transform": transform}),
            )
            feats = image_features(kept[layer.name], layer, res)
            if references is None:
                first = feats.detach()
                references = torch.stack([first[0, :, y, x] for x, y in points])
            else:
                points = track_points(feats.detach(), references, points, r2)
            arrived = all(math.dist(p, t) <= reached for p, t in zip(points, goals, strict=True))
            motion = motion_loss(feats, points, goals, r1, reached)
            total = motion + (mask_weight * mask_loss(feats, first, free) if free is not None else 0.0)
            last = arrived or step == int(steps) or (should_stop is not None and should_stop())
            yield DragStep(
                step,
                int(steps),
                float(total.detach()),
                float(motion.detach()),
                list(points),
                current().detach().clone().cpu(),
                img.detach().cpu(),
                done=last,
                reached=arrived,
            )
            if progress is not None:
                progress(step, int(steps))
            if last:
                return
            # Gradients of the latent only: the network's parameters get none, even when a caller's G requires
            # grad, so nothing of G is written.
            opt.zero_grad(set_to_none=True)
            (head.grad,) = torch.autograd.grad(total, [head])
            opt.step()
