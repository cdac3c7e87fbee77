"""The registry of network families: the one place that answers "which kind of network is this".

`family_of(G)` for a built module, `detect(state_dict)` for weights read from a file, `get(name)` for a kind
stored in a file's metadata, `variant(G)` for the display name ('SG3-T', 'SG3-R', 'SG2', 'SG1', 'ProGAN').
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stylegan3.errors import SG3Error
from stylegan3.families import progan, sg2, sg3, sgv1
from stylegan3.families.base import Capabilities, Family

FAMILIES: tuple[Family, ...] = (sg3.FAMILY, sg2.FAMILY, sgv1.FAMILY, progan.FAMILY)
_BY_NAME = {f.name: f for f in FAMILIES}
NO_CAPABILITIES = Capabilities(input_transform=False, seeded_noise=False, band_limits=False)


def names() -> tuple[str, ...]:
    return tuple(_BY_NAME)


def get(name: str) -> Family:
    """The family stored as `name` ('sg3', 'sg2'); a clear error for anything else."""
    family = _BY_NAME.get(name)
    if family is None:
        raise SG3Error(f"unknown generator kind {name!r} (expected one of {', '.join(_BY_NAME)})")
    return family


def detect(state_dict: Mapping[str, Any]) -> Family | None:
    """The family whose marker tensors are in a state dict, or None."""
    for family in FAMILIES:
        if family.matches_state(state_dict):
            return family
    return None


def family_of(G: Any) -> Family | None:
    """The family of a built generator (our classes carry `kind`), or None for anything else."""
    return _BY_NAME.get(getattr(G, "kind", None))


def variant(G: Any) -> str:
    """'SG3-T', 'SG3-R', 'SG2' for display; 'other' for a module that is not one of ours."""
    family = family_of(G)
    if family is None:
        return "other"
    return family.variant_of(getattr(G, "init_kwargs", {}) or {})


def capabilities(G: Any) -> Capabilities:
    family = family_of(G)
    return family.capabilities if family is not None else NO_CAPABILITIES


def variant_capabilities(variant_name: str) -> Capabilities:
    """Capabilities from a display name (what a NetworkInfo or catalog entry carries)."""
    for family in FAMILIES:
        if variant_name in family.variants:
            return family.capabilities
    return NO_CAPABILITIES


__all__ = ["FAMILIES", "Capabilities", "Family", "capabilities", "detect", "family_of", "get", "names",
           "variant", "variant_capabilities"]
