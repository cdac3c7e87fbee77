"""RenderState (what the panels edit) <-> RenderRequest (what every renderer takes).

The GUI keeps its editable state; everything it sends to a renderer goes through `request_from_state`, so the
window's own thread, a child process and a remote server all receive the same typed request.
"""

from __future__ import annotations

from sg3_explorer.visualizer.state import RenderState
from stylegan3.documents.request import (
    ExplicitLatent,
    FFTView,
    Latent,
    LayerView,
    NetworkRef,
    Noise,
    RenderRequest,
    StyleMix,
    Synthesis,
    Transform,
    Truncation,
    Untransform,
)


def request_from_state(state: RenderState, source: str = "demo", key: str = "G_ema") -> RenderRequest:
    """The state as the request every renderer takes. An explicit latent travels only while it applies (the
    seed-plane position it was set at): a W+ latent is ~200 KiB of JSON, too much to send with every frame of
    another seed; the state keeps it, so going back to that position shows it again."""
    latent = Latent(float(state.x), float(state.y), int(state.class_idx))
    return RenderRequest(
        network=NetworkRef(str(source), key),
        latent=latent,
        mix=StyleMix(int(state.mix_seed), tuple(int(i) for i in state.mix_ws)),
        truncation=Truncation(float(state.psi), state.cutoff),
        noise=Noise(state.noise_mode, int(state.noise_seed)),
        transform=Transform(tuple(float(v) for v in state.translate), float(state.rotate)),
        layer=LayerView(state.layer_name, state.channel, bool(state.layer_normalize), float(state.layer_gain_db)),
        fft=FFTView(bool(state.fft), str(state.fft_window), float(state.fft_range_db)),
        untransform=Untransform(bool(state.untransform), str(state.untransform_view), float(state.diff_gain_db)),
        synthesis=Synthesis(bool(state.force_fp32), bool(state.cuda_graphs)),
        explicit=state.explicit if state.explicit.applies_to(latent) else ExplicitLatent(),
        moves=tuple(state.moves),
    )


def state_from_request(request: RenderRequest, base: RenderState | None = None) -> RenderState:
    """The editable state for a request (a session file, a bookmark)."""
    base = base or RenderState()
    return base.copy(
        x=request.latent.x, y=request.latent.y, class_idx=request.latent.class_idx,
        mix_seed=request.mix.seed, mix_ws=tuple(request.mix.ws),
        psi=request.truncation.psi, cutoff=request.truncation.cutoff,
        noise_mode=request.noise.mode, noise_seed=request.noise.seed,
        force_fp32=request.synthesis.force_fp32, cuda_graphs=request.synthesis.cuda_graphs,
        translate=tuple(request.transform.translate), rotate=request.transform.rotate,
        untransform=request.untransform.enabled, untransform_view=request.untransform.view,
        diff_gain_db=request.untransform.diff_gain_db,
        layer_name=request.layer.layer, channel=request.layer.channel, fft=request.fft.enabled,
        layer_normalize=request.layer.normalize, layer_gain_db=request.layer.gain_db,
        fft_window=request.fft.window, fft_range_db=request.fft.range_db,
        explicit=request.explicit, moves=tuple(request.moves),
    )
