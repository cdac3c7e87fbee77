"""One-line reasons why a panel does not apply to the loaded network, from its capabilities.

Panels that cannot work on some family (no input transform: StyleGAN2, StyleGAN v1, ProGAN; no W space: ProGAN)
stay in the sidebar and say why in one line instead of vanishing, so a user comparing the lineage learns what
each generation lacks. The reasons read `NetworkInfo.capabilities` (never the family's name), so a new family
gets the right lines by declaring its capabilities.
"""

from __future__ import annotations

from stylegan3.networks.info import NetworkInfo


def without_transform(info: NetworkInfo | None, what: str) -> str | None:
    """Why `what` needs StyleGAN3's continuous input; None when the network has it (or none is loaded)."""
    if info is None or info.capabilities.input_transform:
        return None
    return (f"Disabled: {info.kind} has no continuous (Fourier) input to translate or rotate, so {what}. "
            "Load a StyleGAN3 network.")


def without_w(info: NetworkInfo | None, what: str) -> str | None:
    """Why `what` needs an intermediate latent space W; None when the network has one (or none is loaded)."""
    if info is None or info.capabilities.w_space:
        return None
    return f"Disabled: {info.kind} has no W space (z feeds the generator directly), so {what}."


def without_noise(info: NetworkInfo | None) -> str | None:
    """Why there are no noise controls: the network has no per-layer noise inputs."""
    if info is None or info.capabilities.seeded_noise:
        return None
    return f"{info.kind} has no noise inputs"
