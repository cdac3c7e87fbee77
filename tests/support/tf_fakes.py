"""Writers of TensorFlow-era StyleGAN2 pickles, with random variables, by our own code (no TensorFlow).

A TF-era snapshot is a pickled `(G, D, Gs)` tuple of `dnnlib.tflib.network.Network`; each pickles as
"new empty object + BUILD with its state dict" (version, name, static_kwargs, components,
build_module_src, build_func_name, variables). `Network` below has that module and name while
pickling (stand-in modules are put in `sys.modules` only for the dump) and returns such a state.

The variable names and shapes follow TF's build functions (`G_main` -> `G_mapping` +
`G_synthesis_stylegan2` / `G_synthesis` / `G_synthesis_stylegan_revised`): feature maps per stage
`nf(stage) = clip(fmap_base / 2**stage, fmap_min, fmap_max)`, a block at 2**res uses nf(res - 1),
noise inputs `noise{layer_idx}` for layer_idx < num_layers - 1, and so on. They are written here
from TF's point of view, independently of the loader's mapping.
"""

from __future__ import annotations

import contextlib
import pickle
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tests.support.fake_modules import fake_modules

SYNTHESIS_SRC = "# stand-in for training/networks_stylegan2.py, written for tests\ndef G_main(*a, **k):\n    pass\n"


class Network:
    """Pickles like a `dnnlib.tflib.network.Network`: NEWOBJ, then BUILD with `state`."""

    def __init__(self, state: dict) -> None:
        self._state = state

    def __getstate__(self) -> dict:
        return self._state


Network.__module__ = "dnnlib.tflib.network"


def tf_module_names() -> contextlib.AbstractContextManager[None]:
    """Make `dnnlib.tflib.network.Network` resolvable by name while pickling only."""
    return fake_modules({"dnnlib": {}, "dnnlib.tflib": {}, "dnnlib.tflib.network": {"Network": Network}})


def tf_network(name: str, func: str, static_kwargs: dict, variables: dict[str, Any],
               components: dict[str, Network] | None = None, src: str = SYNTHESIS_SRC, version: int = 4) -> Network:
    return Network({
        "version": version,
        "name": name,
        "static_kwargs": dict(static_kwargs),
        "components": dict(components or {}),
        "build_module_src": src,
        "build_func_name": func,
        "variables": list(variables.items()),
    })


def dump_tf(obj: Any, protocol: int = 4) -> bytes:
    with tf_module_names():
        return pickle.dumps(obj, protocol=protocol)


@dataclass
class TFConfig:
    """A TF generator configuration: the static_kwargs a training run stored, plus how to build the variables."""

    static_kwargs: dict[str, Any]
    flavour: str = "stylegan2"  # 'stylegan2' (NVlabs/stylegan2) or 'ada' (NVlabs/stylegan2-ada, TF)
    synthesis_func: str = "G_synthesis_stylegan2"
    extra_variables: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        defaults = dict(latent_size=512, label_size=0, dlatent_size=512, resolution=1024, num_channels=3,
                        fmap_base=16 << 10, fmap_decay=1.0, fmap_min=1, fmap_max=512, architecture="skip",
                        mapping_layers=8, mapping_lrmul=0.01, use_noise=True, label_fmaps=None)
        defaults["mapping_fmaps"] = 512 if self.flavour == "stylegan2" else None
        value = self.static_kwargs.get(name, defaults.get(name))
        return defaults.get(name) if value is None and name != "mapping_fmaps" else value


def nf(cfg: TFConfig, stage: int) -> int:
    return int(np.clip(int(cfg.get("fmap_base") / (2.0 ** (stage * cfg.get("fmap_decay")))),
                       cfg.get("fmap_min"), cfg.get("fmap_max")))


def mapping_variables(cfg: TFConfig, rng: np.random.RandomState) -> dict[str, Any]:
    """G_mapping's own variables: LabelEmbed (ADA, conditional) and Dense0..N-1, weights [in, out]."""
    out: dict[str, Any] = {}
    latent, label, dlatent = cfg.get("latent_size"), cfg.get("label_size"), cfg.get("dlatent_size")
    x = latent
    if label > 0:
        fmaps = cfg.get("label_fmaps") or latent
        out["LabelEmbed/weight"] = rng.randn(label, fmaps).astype(np.float32)
        out["LabelEmbed/bias"] = (0.1 * rng.randn(fmaps)).astype(np.float32)
        x += fmaps
    n = cfg.get("mapping_layers")
    for i in range(n):
        mf = cfg.get("mapping_fmaps")
        fmaps = dlatent if i == n - 1 or mf is None else mf
        out[f"Dense{i}/weight"] = rng.randn(x, fmaps).astype(np.float32)
        out[f"Dense{i}/bias"] = (0.3 * rng.randn(fmaps)).astype(np.float32)
        x = fmaps
    return out


def synthesis_variables(cfg: TFConfig, rng: np.random.RandomState) -> dict[str, Any]:
    """The synthesis network's own variables, in TF's creation order."""
    out: dict[str, Any] = {}
    res_log2 = int(np.log2(cfg.get("resolution")))
    num_layers = res_log2 * 2 - 2
    dlatent, channels = cfg.get("dlatent_size"), cfg.get("num_channels")
    revised = cfg.synthesis_func == "G_synthesis_stylegan_revised"
    if revised:
        out["lod"] = np.float32(0.0)
    if cfg.get("use_noise"):
        for layer_idx in range(num_layers - 1):
            res = (layer_idx + 5) // 2
            out[f"noise{layer_idx}"] = rng.randn(1, 1, 2**res, 2**res).astype(np.float32)

    def layer(scope: str, fmaps_in: int, fmaps: int, kernel: int) -> None:
        out[f"{scope}/weight"] = rng.randn(kernel, kernel, fmaps_in, fmaps).astype(np.float32)
        out[f"{scope}/mod_weight"] = rng.randn(dlatent, fmaps_in).astype(np.float32)
        out[f"{scope}/mod_bias"] = (0.2 * rng.randn(fmaps_in)).astype(np.float32)
        if cfg.get("use_noise"):
            out[f"{scope}/noise_strength"] = np.float32(0.5 * rng.randn())  # a numpy scalar, as TF's run() returns
        out[f"{scope}/bias"] = (0.2 * rng.randn(fmaps)).astype(np.float32)

    def torgb(scope: str, fmaps_in: int) -> None:
        out[f"{scope}/weight"] = rng.randn(1, 1, fmaps_in, channels).astype(np.float32)
        out[f"{scope}/mod_weight"] = rng.randn(dlatent, fmaps_in).astype(np.float32)
        out[f"{scope}/mod_bias"] = (0.2 * rng.randn(fmaps_in)).astype(np.float32)
        out[f"{scope}/bias"] = (0.2 * rng.randn(channels)).astype(np.float32)

    arch = cfg.get("architecture")
    out["4x4/Const/const"] = rng.randn(1, nf(cfg, 1), 4, 4).astype(np.float32)
    layer("4x4/Conv", nf(cfg, 1), nf(cfg, 1), 3)
    if revised:
        torgb(f"ToRGB_lod{res_log2 - 2}", nf(cfg, 1))
    elif arch == "skip":
        torgb("4x4/ToRGB", nf(cfg, 1))
    for res in range(3, res_log2 + 1):
        scope = f"{2**res}x{2**res}"
        layer(f"{scope}/Conv0_up", nf(cfg, res - 2), nf(cfg, res - 1), 3)
        layer(f"{scope}/Conv1", nf(cfg, res - 1), nf(cfg, res - 1), 3)
        if revised:
            torgb(f"ToRGB_lod{res_log2 - res}", nf(cfg, res - 1))
            continue
        if arch == "resnet":
            out[f"{scope}/Skip/weight"] = rng.randn(1, 1, nf(cfg, res - 2), nf(cfg, res - 1)).astype(np.float32)
        if arch == "skip" or res == res_log2:
            torgb(f"{scope}/ToRGB", nf(cfg, res - 1))
    return out


def tf_generator(cfg: TFConfig, seed: int = 0, name: str = "Gs") -> Network:
    """A `G_main` network with `mapping` and `synthesis` components and random variables."""
    rng = np.random.RandomState(seed)
    mapping = tf_network("G_mapping", "G_mapping", cfg.static_kwargs, mapping_variables(cfg, rng))
    synthesis = tf_network("G_synthesis", cfg.synthesis_func, cfg.static_kwargs, synthesis_variables(cfg, rng))
    own: dict[str, Any] = {}
    if cfg.flavour == "stylegan2":
        own["lod"] = np.float32(0.0)
    own["dlatent_avg"] = (0.5 * rng.randn(cfg.get("dlatent_size"))).astype(np.float32)
    own.update(cfg.extra_variables)
    return tf_network(name, "G_main", cfg.static_kwargs, own, {"synthesis": synthesis, "mapping": mapping})


def tf_discriminator(cfg: TFConfig, seed: int = 5) -> Network:
    rng = np.random.RandomState(seed)
    variables = {"4x4/Conv/weight": rng.randn(3, 3, 4, 4).astype(np.float32),
                 "Output/weight": rng.randn(16, 1).astype(np.float32)}
    return tf_network("D", "D_stylegan2", cfg.static_kwargs, variables)


def tf_snapshot(cfg: TFConfig, seed: int = 0, protocol: int = 4) -> bytes:
    """The bytes of a `(G, D, Gs)` snapshot; G and Gs differ (Gs is the moving average of G)."""
    return dump_tf((tf_generator(cfg, seed + 100, "G"), tf_discriminator(cfg), tf_generator(cfg, seed, "Gs")),
                   protocol=protocol)


def _small(**kwargs: Any) -> dict[str, Any]:
    return {"num_channels": 3, "resolution": 32, "label_size": 0, **kwargs}


# Named after the StyleGAN2 paper's configurations (shrunk: fmap_max and latent sizes) and StyleGAN2-ADA (TF).
CONFIGS: dict[str, TFConfig] = {
    # config-f: no overrides in run_training.py beyond the dataset's; shrunk by fmap_max and latent sizes.
    "config-f": TFConfig(_small(latent_size=16, dlatent_size=16, fmap_max=16, mapping_layers=3)),
    # config-e: fmap_base = 8 << 10 and a G architecture (config-e-Gorig / -Gskip / -Gresnet).
    "config-e-Gorig": TFConfig(_small(latent_size=16, dlatent_size=16, fmap_base=8 << 10, fmap_max=16,
                                      architecture="orig", mapping_layers=2, mapping_fmaps=16)),
    "config-e-Gskip": TFConfig(_small(latent_size=16, dlatent_size=16, fmap_base=8 << 10, fmap_max=16,
                                      architecture="skip", mapping_layers=2, mapping_fmaps=16)),
    "config-e-Gresnet": TFConfig(_small(latent_size=16, dlatent_size=16, fmap_base=8 << 10, fmap_max=16,
                                        architecture="resnet", mapping_layers=2, mapping_fmaps=16)),
    # config-b..d: progressive growing, G_synthesis_stylegan_revised, finished at lod 0.
    "config-d": TFConfig(_small(latent_size=16, dlatent_size=16, fmap_base=8 << 10, fmap_max=16, mapping_layers=2,
                                mapping_fmaps=16, synthesis_func="G_synthesis_stylegan_revised"),
                         synthesis_func="G_synthesis_stylegan_revised"),
    # StyleGAN2-ADA (TF), conditional: what its train.py stores (fmap_base, fmap_max, mapping_layers, fp16, clamp).
    "ada-cond": TFConfig(_small(label_size=4, latent_size=16, dlatent_size=16, fmap_base=int(0.5 * 16384),
                                fmap_max=16, mapping_layers=2, num_fp16_res=4, conv_clamp=256,
                                style_mixing_prob=None), flavour="ada", synthesis_func="G_synthesis"),
    # Channel counts that differ at every resolution (fmap_base below fmap_max * 4), z and w of different sizes.
    "nonsquare": TFConfig(_small(latent_size=12, dlatent_size=8, fmap_base=64, fmap_max=32, architecture="resnet",
                                 mapping_layers=3, mapping_fmaps=20, truncation_psi=0.7), flavour="ada",
                          synthesis_func="G_synthesis"),
    # No noise inputs, one output channel.
    "ada-nonoise": TFConfig(_small(latent_size=8, dlatent_size=8, fmap_base=128, fmap_max=16, mapping_layers=1,
                                   use_noise=False, num_channels=1),
                            flavour="ada", synthesis_func="G_synthesis"),
}
