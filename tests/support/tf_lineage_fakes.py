"""Writers of TensorFlow-era StyleGAN (v1) and ProGAN pickles with random variables, by our own code (no TF).

Variable names and shapes follow the TF build functions' scopes as those create them, written here from
TF's point of view (independently of the loaders' tables):
- StyleGAN v1 (`G_style` with `G_mapping` / `G_synthesis` components, dnnlib Network, state version 3):
  `nf(stage) = min(int(fmap_base / 2**(stage * fmap_decay)), fmap_max)`, a block at 2**res uses
  nf(res - 1); noise{i} for every layer i < 2 * log2(resolution) - 2 at resolution 2**(i // 2 + 2); every
  layer's epilogue creates `Noise/weight`, `bias`, `StyleMod/weight` [dlatent, 2C] and `StyleMod/bias`;
  one `ToRGB_lod{k}` per level.
- ProGAN (`G_paper`): as tkarras/progressive_growing_of_gans writes it (`tfutil.Network`, state version 2;
  Theano-converted `Conv0`, or TF-trained fused `Conv0_up` stored [k, k, out, in]) or as NVlabs/stylegan's
  networks_progan.py writes it (dnnlib Network, version 3, `Conv0_up` stored [k, k, in, out]).
"""

from __future__ import annotations

import contextlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.fake_modules import fake_modules
from tests.support.tf_fakes import Network, tf_module_names, tf_network

STYLEGAN_SRC = "# stand-in for training/networks_stylegan.py, written for tests\ndef G_style(*a, **k):\n    pass\n"
PROGAN_SRC = "# stand-in for networks.py, written for tests\ndef G_paper(*a, **k):\n    pass\n"


class TFUtilNetwork(Network):
    """Pickles like tkarras' `tfutil.Network`: NEWOBJ, then BUILD with its version-2 state (no components).

    The pickling is dnnlib's `Network`'s; only the name the pickle records differs.
    """


TFUtilNetwork.__module__ = "tfutil"
TFUtilNetwork.__name__ = TFUtilNetwork.__qualname__ = "Network"  # pickled as tfutil.Network


def tfutil_module_name() -> contextlib.AbstractContextManager[None]:
    """Make `tfutil.Network` resolvable by name while pickling only."""
    return fake_modules({"tfutil": {"Network": TFUtilNetwork}})


def dump(obj: Any, protocol: int = 4) -> bytes:
    """Pickle bytes of TF-era objects of either writer."""
    with tf_module_names(), tfutil_module_name():
        return pickle.dumps(obj, protocol=protocol)


def nf(kwargs: dict[str, Any], stage: int, default_base: int = 8192) -> int:
    base = kwargs.get("fmap_base", default_base)
    return min(int(base / (2.0 ** (stage * kwargs.get("fmap_decay", 1.0)))), kwargs.get("fmap_max", 512))


def _randn(rng: np.random.RandomState, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.randn(*shape)).astype(np.float32)


# --- StyleGAN (v1) ---------------------------------------------------------------------------------


@dataclass
class V1Config:
    """G_style settings (what train.py stores; passed on to both components) and the lod to save."""

    kwargs: dict[str, Any]
    lod: float = 0.0
    extra_synthesis: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        defaults = dict(latent_size=512, label_size=0, dlatent_size=512, mapping_layers=8, mapping_fmaps=512,
                        num_channels=3, resolution=1024, use_noise=True)
        return self.kwargs.get(name, defaults.get(name))


def v1_mapping_variables(cfg: V1Config, rng: np.random.RandomState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    latent, label, dlatent = cfg.get("latent_size"), cfg.get("label_size"), cfg.get("dlatent_size")
    x = latent
    if label:
        out["LabelConcat/weight"] = _randn(rng, label, latent)
        x += latent
    n = cfg.get("mapping_layers")
    # Stored values carry 1 / lrmul (TF initialises them so), or the mapping would not depend on z at all.
    lrmul = cfg.kwargs.get("mapping_lrmul", 0.01)
    for i in range(n):
        fmaps = dlatent if i == n - 1 else cfg.get("mapping_fmaps")
        out[f"Dense{i}/weight"] = _randn(rng, x, fmaps, scale=1 / lrmul)
        out[f"Dense{i}/bias"] = _randn(rng, fmaps, scale=0.3 / lrmul)
        x = fmaps
    return out


def v1_synthesis_variables(cfg: V1Config, rng: np.random.RandomState) -> dict[str, Any]:
    out: dict[str, Any] = {"lod": np.float32(cfg.lod)}
    res_log2 = int(np.log2(cfg.get("resolution")))
    num_layers = res_log2 * 2 - 2
    dlatent, channels = cfg.get("dlatent_size"), cfg.get("num_channels")
    if cfg.get("use_noise"):
        for i in range(num_layers):
            r = 2 ** (i // 2 + 2)
            out[f"noise{i}"] = _randn(rng, 1, 1, r, r)

    def epilogue(scope: str, fmaps: int) -> None:
        if cfg.get("use_noise"):
            out[f"{scope}/Noise/weight"] = _randn(rng, fmaps, scale=0.5)
        out[f"{scope}/bias"] = _randn(rng, fmaps, scale=0.2)
        out[f"{scope}/StyleMod/weight"] = _randn(rng, dlatent, 2 * fmaps)
        out[f"{scope}/StyleMod/bias"] = _randn(rng, 2 * fmaps, scale=0.2)

    def torgb(res: int, fmaps: int) -> None:
        out[f"ToRGB_lod{res_log2 - res}/weight"] = _randn(rng, 1, 1, fmaps, channels)
        out[f"ToRGB_lod{res_log2 - res}/bias"] = _randn(rng, channels, scale=0.2)

    kw = cfg.kwargs
    out["4x4/Const/const"] = _randn(rng, 1, nf(kw, 1), 4, 4)
    epilogue("4x4/Const", nf(kw, 1))
    out["4x4/Conv/weight"] = _randn(rng, 3, 3, nf(kw, 1), nf(kw, 1))
    epilogue("4x4/Conv", nf(kw, 1))
    torgb(2, nf(kw, 1))
    for res in range(3, res_log2 + 1):
        scope = f"{2**res}x{2**res}"
        out[f"{scope}/Conv0_up/weight"] = _randn(rng, 3, 3, nf(kw, res - 2), nf(kw, res - 1))
        epilogue(f"{scope}/Conv0_up", nf(kw, res - 1))
        out[f"{scope}/Conv1/weight"] = _randn(rng, 3, 3, nf(kw, res - 1), nf(kw, res - 1))
        epilogue(f"{scope}/Conv1", nf(kw, res - 1))
        torgb(res, nf(kw, res - 1))
    out.update(cfg.extra_synthesis)
    return out


def v1_generator(cfg: V1Config, seed: int = 0, name: str = "Gs", version: int = 3) -> Network:
    """A `G_style` network with `mapping` and `synthesis` components and random variables."""
    rng = np.random.RandomState(seed)
    num_layers = int(np.log2(cfg.get("resolution"))) * 2 - 2
    mapping = tf_network("G_mapping", "G_mapping", {**cfg.kwargs, "dlatent_broadcast": num_layers},
                         v1_mapping_variables(cfg, rng), src=STYLEGAN_SRC, version=version)
    synthesis = tf_network("G_synthesis", "G_synthesis", cfg.kwargs, v1_synthesis_variables(cfg, rng),
                           src=STYLEGAN_SRC, version=version)
    own = {"lod": np.float32(cfg.lod), "dlatent_avg": _randn(rng, cfg.get("dlatent_size"), scale=0.5)}
    return tf_network(name, "G_style", cfg.kwargs, own, {"synthesis": synthesis, "mapping": mapping},
                      src=STYLEGAN_SRC, version=version)


def v1_discriminator(cfg: V1Config, seed: int = 7) -> Network:
    rng = np.random.RandomState(seed)
    return tf_network("D", "D_basic", cfg.kwargs, {"4x4/Conv/weight": _randn(rng, 3, 3, 4, 4)}, src=STYLEGAN_SRC,
                      version=3)


def v1_snapshot(cfg: V1Config, seed: int = 0) -> bytes:
    """(G, D, Gs) bytes, as NVlabs/stylegan's training loop saves them; G and Gs differ."""
    return dump((v1_generator(cfg, seed + 100, "G"), v1_discriminator(cfg), v1_generator(cfg, seed, "Gs")))


def _v1(**kwargs: Any) -> dict[str, Any]:
    return {"num_channels": 3, "label_size": 0, **kwargs}


V1_CONFIGS: dict[str, V1Config] = {
    # Below 128x128 'auto' never fuses: the FFHQ config shrunk (latent, channels, mapping depth).
    "ffhq-small": V1Config(_v1(resolution=32, latent_size=16, dlatent_size=16, fmap_base=64, fmap_max=16,
                               mapping_layers=3, mapping_fmaps=12)),
    # Fused up-sampling everywhere, channel counts that halve at every level, a 1-layer mapping.
    "fused": V1Config(_v1(resolution=16, latent_size=8, dlatent_size=10, fmap_base=32, fmap_max=16, mapping_layers=1,
                          fused_scale=True)),
    # 'auto' at 128x128: only the last block is fused.
    "auto-128": V1Config(_v1(resolution=128, latent_size=8, dlatent_size=8, fmap_base=512, fmap_max=4,
                             mapping_layers=2, mapping_fmaps=8)),
    # Conditional (LabelConcat), one output channel, deeper mapping.
    "conditional": V1Config(_v1(resolution=8, latent_size=6, dlatent_size=8, label_size=3, num_channels=1,
                                fmap_base=32, fmap_max=8, mapping_layers=4, mapping_fmaps=9)),
    # The other switches: relu, pixel norm instead of instance norm, no noise, no blur, fmap_decay 0.5.
    "switches": V1Config(_v1(resolution=16, latent_size=8, dlatent_size=8, fmap_base=24, fmap_max=12, fmap_decay=0.5,
                             mapping_layers=2, mapping_fmaps=8, nonlinearity="relu", mapping_nonlinearity="relu",
                             use_pixel_norm=True, use_instance_norm=False, use_noise=False, blur_filter=None,
                             truncation_psi=0.5, truncation_cutoff=3)),
}


# --- ProGAN ------------------------------------------------------------------------------------------


@dataclass
class ProConfig:
    """G_paper settings and which writer saved it: 'theano' (tkarras, released, Conv0), 'tfutil' (tkarras,
    TF-trained, Conv0_up [k,k,out,in]) or 'dnnlib' (NVlabs/stylegan, Conv0_up [k,k,in,out])."""

    kwargs: dict[str, Any]
    writer: str = "tfutil"
    lod: float = 0.0

    @property
    def fused(self) -> bool:
        return self.writer != "theano"


def progan_variables(cfg: ProConfig, rng: np.random.RandomState) -> dict[str, Any]:
    kw = cfg.kwargs
    res_log2 = int(np.log2(kw["resolution"]))
    latent = kw.get("latent_size") or nf(kw, 0)
    channels = kw.get("num_channels", 1)
    out: dict[str, Any] = {}
    out["4x4/Dense/weight"] = _randn(rng, latent + kw.get("label_size", 0), nf(kw, 1) * 16)
    out["4x4/Dense/bias"] = _randn(rng, nf(kw, 1), scale=0.2)
    out["4x4/Conv/weight"] = _randn(rng, 3, 3, nf(kw, 1), nf(kw, 1))
    out["4x4/Conv/bias"] = _randn(rng, nf(kw, 1), scale=0.2)
    for res in range(3, res_log2 + 1):
        scope = f"{2**res}x{2**res}"
        c_in, c_out = nf(kw, res - 2), nf(kw, res - 1)
        if cfg.writer == "theano":
            out[f"{scope}/Conv0/weight"] = _randn(rng, 3, 3, c_in, c_out)
            out[f"{scope}/Conv0/bias"] = _randn(rng, c_out, scale=0.2)
        else:
            shape = (3, 3, c_out, c_in) if cfg.writer == "tfutil" else (3, 3, c_in, c_out)
            out[f"{scope}/Conv0_up/weight"] = _randn(rng, *shape)
            out[f"{scope}/Conv0_up/bias"] = _randn(rng, c_out, scale=0.2)
        out[f"{scope}/Conv1/weight"] = _randn(rng, 3, 3, c_out, c_out)
        out[f"{scope}/Conv1/bias"] = _randn(rng, c_out, scale=0.2)
    for lod in range(res_log2 - 1):
        out[f"ToRGB_lod{lod}/weight"] = _randn(rng, 1, 1, nf(kw, res_log2 - lod - 1), channels)
        out[f"ToRGB_lod{lod}/bias"] = _randn(rng, channels, scale=0.2)
    out["lod"] = np.float32(cfg.lod)
    return out


def progan_state(cfg: ProConfig, seed: int = 0, name: str = "Gs") -> dict[str, Any]:
    rng = np.random.RandomState(seed)
    kwargs = dict(cfg.kwargs, fused_scale=cfg.fused)
    if cfg.writer == "theano":  # what tkarras' legacy importer adds to converted Theano networks
        kwargs["mbstd_group_size"] = 16
    state = {"version": 2 if cfg.writer != "dnnlib" else 3, "name": name, "static_kwargs": kwargs,
             "build_module_src": PROGAN_SRC, "build_func_name": "G_paper",
             "variables": list(progan_variables(cfg, rng).items())}
    if cfg.writer == "dnnlib":
        state["components"] = {}
    return state


def progan_generator(cfg: ProConfig, seed: int = 0, name: str = "Gs") -> Any:
    state = progan_state(cfg, seed, name)
    return Network(state) if cfg.writer == "dnnlib" else TFUtilNetwork(state)


def progan_snapshot(cfg: ProConfig, seed: int = 0) -> bytes:
    rng = np.random.RandomState(seed + 7)
    d_state = {"version": 2, "name": "D", "static_kwargs": {}, "build_module_src": PROGAN_SRC,
               "build_func_name": "D_paper", "variables": [("4x4/Conv/weight", _randn(rng, 3, 3, 4, 4))]}
    d = Network({**d_state, "version": 3, "components": {}}) if cfg.writer == "dnnlib" else TFUtilNetwork(d_state)
    return dump((progan_generator(cfg, seed + 100, "G"), d, progan_generator(cfg, seed, "Gs")))


def _pro(**kwargs: Any) -> dict[str, Any]:
    return {"num_channels": 3, "label_size": 0, **kwargs}


PROGAN_CONFIGS: dict[str, ProConfig] = {
    # The released networks: converted from Theano, nearest up-sampling + Conv0.
    "theano": ProConfig(_pro(resolution=32, latent_size=16, fmap_base=64, fmap_max=16), writer="theano"),
    # Trained with tkarras' TF code: fused Conv0_up stored [k, k, out, in]; every level has new channel counts.
    "tfutil-fused": ProConfig(_pro(resolution=16, fmap_base=64, fmap_max=32), writer="tfutil"),
    # NVlabs/stylegan's networks_progan.py: Conv0_up stored [k, k, in, out].
    "dnnlib-fused": ProConfig(_pro(resolution=16, latent_size=12, fmap_base=64, fmap_max=32), writer="dnnlib"),
    # Same channel count in and out (the two layouts have equal shapes): told apart by the pickled class only.
    "square-tfutil": ProConfig(_pro(resolution=16, latent_size=8, fmap_base=64, fmap_max=8), writer="tfutil"),
    "square-dnnlib": ProConfig(_pro(resolution=16, latent_size=8, fmap_base=64, fmap_max=8), writer="dnnlib"),
    # Conditional: the label is concatenated to z before the pixel norm; ReLU, no pixel norm in the layers.
    "conditional": ProConfig(_pro(resolution=8, latent_size=6, label_size=4, fmap_base=32, fmap_max=8,
                                  use_leakyrelu=False, use_pixelnorm=False, num_channels=1), writer="tfutil"),
}


# --- the lineage ------------------------------------------------------------------------------------------------


def write_lineage_nets(folder: Path) -> list[Path]:
    """ProGAN | StyleGAN | StyleGAN2 | StyleGAN3-R in `folder`, tiny and untrained, all 32 px with z_dim 16 (one
    shared latent): the first two as TF-era pickles (read as data by the loaders), the last two as native files.
    What the lineage tests (comparison window, `sticking`, `video`) and the README picture compare."""
    from tests.support.nets import save_tiny

    folder.mkdir(parents=True, exist_ok=True)
    progan, stylegan = folder / "progan.pkl", folder / "stylegan.pkl"
    progan.write_bytes(progan_snapshot(PROGAN_CONFIGS["theano"]))
    stylegan.write_bytes(v1_snapshot(V1_CONFIGS["ffhq-small"]))
    sg2 = save_tiny(folder / "stylegan2.safetensors", "sg2", z_dim=16, res=32, seed=0)
    sg3r = save_tiny(folder / "stylegan3-r.safetensors", "sg3-r", z_dim=16, res=32, seed=1)
    return [progan, stylegan, sg2, sg3r]
