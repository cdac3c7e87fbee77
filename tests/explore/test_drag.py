"""Drag to edit (`stylegan3.explore.drag`): point tracking exact on synthetic feature maps, the layer each family
drags on, the one-line errors, and real drags on small networks of our own.

What a drag does on an untrained net: its features are random functions of the latent, so the handle follows
only as far as the motion supervision keeps the local pattern together. On the 32² StyleGAN2 net below (features
of the 16² block) an 8-pixel drag arrives within ~40 steps at lr 0.01; on the 32² SG3-T net (its first layer,
16 samples per unit) within ~140 steps at lr 0.03, after wandering a pixel or two off the line. DragGAN's
default mask weight (10) freezes these nets completely (the whole image hangs on the same few ws), so the mask
test uses 3.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stylegan3.errors import SG3Error
from stylegan3.explore.drag import (
    FeatureLayer,
    check_mask,
    check_points,
    drag,
    feature_layer,
    image_features,
    motion_loss,
    track_points,
)
from tests.support.nets import tiny_net


def _pattern(seed: int = 0, size: int = 40, channels: int = 6) -> torch.Tensor:
    return torch.randn(1, channels, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("shift", [(0, 0), (3, 0), (0, -4), (5, 2), (-6, -6)])
def test_tracking_finds_a_shifted_pattern_at_its_shift(shift):
    first = _pattern()
    points = [(20, 20), (14, 25), (26, 12)]
    refs = torch.stack([first[0, :, y, x] for x, y in points])
    moved = torch.roll(first, shifts=(shift[1], shift[0]), dims=(2, 3))
    got = track_points(moved, refs, points, radius=6)
    assert got == [(x + shift[0], y + shift[1]) for x, y in points]


def test_tracking_stays_in_its_window_and_in_the_image():
    first = _pattern(1)
    refs = first[0, :, 20, 20][None]
    moved = torch.roll(first, shifts=(0, 9), dims=(2, 3))  # the pattern went 9 px right: out of a 6 px window
    ((x, y),) = track_points(moved, refs, [(20, 20)], radius=6)
    assert 14 <= x <= 26 and 14 <= y <= 26 and (x, y) != (29, 20)
    corner = track_points(first, first[0, :, 0, 0][None], [(1, 1)], radius=5)
    assert corner == [(0, 0)]  # the window is clipped at the border, the point found there


def test_features_are_cropped_to_the_image_and_resized():
    raw = torch.zeros(1, 2, 36, 36)
    raw[:, :, 10:26, 10:26] = 1.0  # the image's area of an SG3 layer: 16 samples inside a 10-sample margin
    feats = image_features(raw, FeatureLayer("L0", 10, 36), 32)
    assert feats.shape == (1, 2, 32, 32) and torch.equal(feats, torch.ones_like(feats))


def test_motion_loss_pulls_the_patch_one_pixel_towards_the_target():
    feats = torch.zeros(1, 1, 16, 16)
    feats[0, 0, :, 9] = 1.0  # a bright column just right of the handle
    assert float(motion_loss(feats, [(8, 8)], [(12, 8)], radius=1.5)) > 0  # F(q + d) differs from F(q)
    assert float(motion_loss(feats, [(8, 8)], [(8, 3)], radius=1.5)) == 0  # along the column nothing differs
    assert float(motion_loss(feats, [(8, 8)], [(9, 8)], radius=1.5, reached=1.0)) == 0  # arrived: no pull


def test_each_family_drags_on_its_own_layer():
    from stylegan3.networks.layers import list_layers

    assert feature_layer(tiny_net("SG2", res=32)) == FeatureLayer("b16.conv1", 0, 16)
    sg3 = tiny_net("SG3-T", res=32)
    layer = feature_layer(sg3)
    info = next(i for i in list_layers(sg3) if i.name == layer.name)
    assert info.sampling_rate >= 16 and layer.margin == (info.width - info.sampling_rate) / 2
    from stylegan3.families import sg2

    assert sg2.drag_layer([], 1024) == "b128.conv1" and sg2.drag_layer([], 256) == "b128.conv1"


def test_bad_points_and_masks_are_one_line_errors():
    with pytest.raises(SG3Error, match=r"point 2: target \(40, 3\) is outside the 32x32 image"):
        check_points([(1, 1), (2, 2)], [(3, 3), (40, 3)], 32)
    with pytest.raises(SG3Error, match="at least one handle"):
        check_points([], [], 32)
    with pytest.raises(SG3Error, match="mask of shape"):
        check_mask(np.ones([16, 16]), 32)
    with pytest.raises(SG3Error, match="the mask is empty"):
        check_mask(np.zeros([32, 32]), 32)
    assert check_mask(np.ones([32, 32]), 32) is None  # everything may change: no mask term


def _start(G) -> torch.Tensor:
    z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(1))
    return G.mapping(z.to(next(G.parameters()).device), None)


def _moved_towards(first, last, target) -> float:
    """How far the handle went along the line to its target, in pixels."""
    d = np.subtract(target, first)
    return float(np.dot(np.subtract(last, first), d / np.linalg.norm(d)))


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "lr"), [("SG2", 0.01), ("SG3-T", 0.03)])
def test_a_handle_dragged_8_px_gets_at_least_half_way(kind, lr):
    G = tiny_net(kind, res=32)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    handle, target = (12, 16), (20, 16)
    steps = list(drag(G, _start(G), [handle], [target], steps=200, lr=lr))
    assert len(steps) <= 201 and steps[-1].done and all(not s.done for s in steps[:-1])
    assert _moved_towards(handle, steps[-1].points[0], target) >= 4
    assert math.dist(steps[-1].points[0], target) <= 4
    pulled = [s.motion for s in steps if s.motion > 0]
    assert min(pulled) < 0.9 * pulled[0]  # the motion-supervision loss falls
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())  # the network is not written
    assert all(p.grad is None for p in G.parameters())


@pytest.mark.slow
def test_the_mask_keeps_the_rest_of_the_image():
    G = tiny_net("SG2", res=32)
    ws = _start(G)
    mask = np.zeros([32, 32], dtype=np.float32)
    mask[:, 6:27] = 1
    inside = torch.from_numpy(mask) > 0

    def change(free):
        steps = list(drag(G, ws, [(12, 16)], [(20, 16)], mask=free, steps=200, lr=0.01, mask_weight=3.0))
        d = (steps[-1].image - steps[0].image).abs().mean(dim=1)[0]
        return steps[-1], float(d[inside].mean()), float(d[~inside].mean())

    free_last, _, free_out = change(None)
    last, masked_in, masked_out = change(mask)
    assert _moved_towards((12, 16), last.points[0], (20, 16)) >= 4
    assert masked_out < masked_in  # the unmasked region changes less than the masked one
    assert masked_out < 0.9 * free_out  # and less than without the mask
    assert last.loss > last.motion or last.reached  # the mask term is part of the loss


def test_stop_ends_at_the_last_step_shown():
    G = tiny_net("SG2", res=32)
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) >= 3

    steps = list(drag(G, _start(G), [(12, 16)], [(20, 16)], steps=200, lr=0.01, should_stop=stop))
    assert [s.step for s in steps] == [0, 1, 2] and steps[-1].done and not steps[-1].reached


@pytest.mark.gpu
def test_a_drag_on_the_gpu_gets_half_way_too():
    """The same drag as on the CPU, on CUDA (features, tracking and the update all on the device). Written
    without a GPU at hand: untested here."""
    G = tiny_net("SG2", res=32).to("cuda")
    steps = list(drag(G, _start(G), [(12, 16)], [(20, 16)], steps=200, lr=0.01))
    assert steps[-1].ws.device.type == "cpu" and steps[-1].image.device.type == "cpu"
    assert _moved_towards((12, 16), steps[-1].points[0], (20, 16)) >= 4
