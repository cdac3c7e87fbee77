"""`ParsedNetwork`: what every reader hands to the builder, independent of the file format.

Keeping the file readers pure (file -> ParsedNetwork) lets tests check parsing without building
modules, and lets the converter write a native file from a pickle without going through torch
modules at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

KINDS = ("sg3", "sg2", "sgv1", "progan")


@dataclass
class ParsedNetwork:
    """A generator as data: `kind` ('sg3'|'sg2'), constructor kwargs and a flat state dict with official names."""

    kind: str
    class_name: str
    init_kwargs: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def variant(self) -> str:
        """'SG3-T', 'SG3-R' or 'SG2', read from the constructor kwargs (R nets use 1x1 convs / radial filters)."""
        from stylegan3 import families

        return families.get(self.kind).variant_of(self.init_kwargs)
