"""What a network family is, as the rest of the program needs to know it.

A family bundles the generator class, how to recognise its weights, how to name a variant for people and
what the renderer and panels may do with it (capabilities), so code asks `family.capabilities.input_transform`
instead of comparing display strings. Adding a family means one module next to this one plus its tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Capabilities:
    """What a family supports; panels enable or hide their controls from these."""

    input_transform: bool  # translate / rotate the synthesis input (and untransform, EQ metrics)
    seeded_noise: bool  # random noise drawn from a caller's torch.Generator (reproducible per request)
    band_limits: bool  # layers carry cutoff / stopband / sampling rate (alias-free layers)
    # An intermediate latent space W (truncation, style mixing, W / W+ directions and projection). ProGAN has
    # none: its "ws" row is the network input concat(z, c) itself.
    w_space: bool = True


@dataclass(frozen=True)
class Family:
    name: str  # internal kind, as stored in native files: 'sg3', 'sg2'
    title: str  # for people: 'StyleGAN3'
    generator_class: Callable[..., Any]
    capabilities: Capabilities
    marker_keys: tuple[str, ...]  # state-dict keys only this family has
    variant_of: Callable[[Mapping[str, Any]], str]  # init kwargs -> 'SG3-T' / 'SG3-R' / 'SG2'
    variants: tuple[str, ...]
    training_only_kwargs: tuple[str, ...] = ()  # constructor kwargs tolerated and dropped
    # The synthesis layer whose output drag-to-edit tracks and pulls (`stylegan3.explore.drag`), chosen from the
    # network's layers (`networks.layers.list_layers`) and image resolution; None: the family offers no drag.
    drag_layer: Callable[[Sequence[Any], int], str] | None = None

    def matches_state(self, keys: Any) -> bool:
        return any(k in keys for k in self.marker_keys)


def lazy_generator(module: str) -> Callable[..., Any]:
    """A `generator_class` that builds `module.Generator(**kwargs)`, importing the network module on first use.

    Families are listed at import time, and naming one must not pull in every network's code (and torch) with it.
    """

    def build(**kwargs: Any) -> Any:
        return importlib.import_module(module).Generator(**kwargs)

    return build


def single_variant(name: str) -> Callable[[Mapping[str, Any]], str]:
    """The `variant_of` of a family with one variant: every network of it has the display name `name`."""

    def variant(_init_kwargs: Mapping[str, Any]) -> str:
        return name

    return variant
