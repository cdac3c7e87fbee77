"""Map a TensorFlow StyleGAN2 generator (`G_main`) onto our StyleGAN2: settings -> init kwargs, variables -> tensors.

The conversion is the one NVIDIA documents in its `legacy.py`, so a converted network renders what
NVIDIA's viewer shows after its own conversion:
- settings: `latent_size` -> `z_dim`, `label_size` -> `c_dim`, `dlatent_size` -> `w_dim`, `resolution`,
  `num_channels`; TF counts feature maps per stage (`fmap_base / 2**stage`, stage = log2(res) - 1), ours
  per resolution, hence `channel_base = 2 * fmap_base`; `resample_kernel` -> `resample_filter`,
  `nonlinearity` -> `activation`, `mapping_*` -> `mapping_kwargs`;
- dense weights are stored `[in, out]` (ours `[out, in]`), conv weights `[kh, kw, in, out]` (ours
  `[out, in, kh, kw]`); TF's upsampling convolution correlates with its kernel where ours, a
  transposed convolution, convolves, so `Conv0_up` and `Skip` kernels are also flipped in space;
- TF adds the style's constant 1 after the `mod_bias`; ours starts that bias at 1, so it is `mod_bias + 1`;
- `noise{i}` are the per-layer constant noise images, in layer order (b4.conv1 is noise0, then conv0 and
  conv1 of every block); `dlatent_avg` is `w_avg`; the const input drops its batch axis.
The progressive-growing synthesis of configs B-D (`G_synthesis_stylegan_revised`) is the 'orig'
architecture with the final `ToRGB_lod0`, once growing has finished (lod 0).

Everything is checked against one table of expected TF variables (name, shape) built from the
settings, so a missing, misshapen or unknown variable is refused by its TF name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from stylegan3.errors import UnsupportedNetworkError
from stylegan3.loading.parsed import ParsedNetwork
from stylegan3.loading.tf_legacy import TFNetwork
from stylegan3.loading.tf_tables import TableEntry, conv_hwio, dense_t, first, first_two, same
from stylegan3.ops import setup_filter

# G_main's defaults for the settings that shape the network (what a file leaves out).
TF_DEFAULTS: dict[str, Any] = {
    "latent_size": 512, "label_size": 0, "dlatent_size": 512, "resolution": 1024, "num_channels": 3,
    "fmap_base": 16384, "fmap_max": 512, "fmap_min": 1, "fmap_decay": 1, "num_fp16_res": 0, "conv_clamp": None,
    "architecture": "skip", "resample_kernel": [1, 3, 3, 1], "use_noise": True, "nonlinearity": "lrelu",
    "mapping_layers": 8, "mapping_nonlinearity": "lrelu", "mapping_lrmul": 0.01,
}  # fmt: skip
# Settings that change training or TF's graph, not what a finished generator computes in float32.
TF_RUNTIME_SETTINGS = frozenset({
    "truncation_psi", "truncation_cutoff", "truncation_psi_val", "truncation_cutoff_val", "style_mixing_prob",
    "dlatent_avg_beta", "w_avg_beta", "structure", "conditioning", "fused_modconv", "randomize_noise", "dtype",
    "is_training", "is_validation", "return_dlatents",
})  # fmt: skip
# Settings read from the variables' shapes or checked for the one value our network implements.
TF_CHECKED_SETTINGS = frozenset({
    "mapping_fmaps", "label_fmaps", "fmap_const", "normalize_latents", "mapping_func", "synthesis_func",
})  # fmt: skip
ACTIVATIONS = ("lrelu", "relu", "linear")
SYNTHESIS_FUNCS = ("G_synthesis_stylegan2", "G_synthesis")
REVISED_SYNTHESIS = "G_synthesis_stylegan_revised"
_LISTED = 3


# One expected TF variable: the record the other TF-era readers use; here its `note` stays empty, since
# `LAYOUT_NOTES` names the layout change by converter.
TFVariable = TableEntry


def _conv_flipped(value: np.ndarray) -> np.ndarray:
    return value[::-1, ::-1].transpose(3, 2, 0, 1)


def _style_bias(value: np.ndarray) -> np.ndarray:
    return value + 1


# How each conversion changes a variable, for `info` (identity conversions are not listed).
LAYOUT_NOTES: dict[Callable[[np.ndarray], np.ndarray], str] = {
    dense_t: "transposed",
    conv_hwio: "HWIO->OIHW",
    _conv_flipped: "flipped, HWIO->OIHW",
    first: "[0]",
    first_two: "[0, 0]",
    _style_bias: "+1",
}


def convert_tf_generator(network: TFNetwork, label: str) -> ParsedNetwork:
    """A `ParsedNetwork` of our StyleGAN2 from a TF `G_main` network, refusing anything that does not fit."""
    mapping, synthesis = _components(network, label)
    revised = synthesis.build_func_name == REVISED_SYNTHESIS
    variables = network.all_variables()
    init_kwargs = generator_kwargs(network.static_kwargs, variables, revised, label)
    table = variable_table(init_kwargs, revised)
    _check_variables(variables, table, init_kwargs, revised, label)
    state_dict: dict[str, torch.Tensor] = {}
    for entry in table:
        value = np.array(entry.convert(variables[entry.tf_name]), dtype=np.float32, order="C")  # a copy; 0-d kept
        state_dict[entry.our_name] = torch.from_numpy(value)
    state_dict.update(filter_buffers(init_kwargs))
    settings = network.static_kwargs
    extra = {
        "format": "tensorflow",
        "tf_names": {entry.our_name: entry.tf_name for entry in table},
        "tf_layout": {entry.our_name: LAYOUT_NOTES[entry.convert] for entry in table if entry.convert in LAYOUT_NOTES},
        "tf_functions": [network.build_func_name, mapping.build_func_name, synthesis.build_func_name],
        "tf_static_kwargs": dict(settings),
        # G_main's own defaults; NVIDIA's converter (and so this app) does not apply them, they are shown only.
        "tf_truncation_psi": settings.get("truncation_psi", 0.5),
        "tf_truncation_cutoff": settings.get("truncation_cutoff"),
    }
    return ParsedNetwork(kind="sg2", class_name="Generator", init_kwargs=init_kwargs, state_dict=state_dict,
                         extra=extra)


def _components(network: TFNetwork, label: str) -> tuple[TFNetwork, TFNetwork]:
    mapping = network.components.get("mapping")
    synthesis = network.components.get("synthesis")
    if mapping is None or synthesis is None:
        present = ", ".join(sorted(network.components)) or "none"
        raise UnsupportedNetworkError(
            label, f"TensorFlow G_main without mapping and synthesis networks (components: {present})"
        )
    if mapping.build_func_name != "G_mapping":
        raise UnsupportedNetworkError(label, f"unknown TensorFlow mapping network {mapping.build_func_name!r}")
    if synthesis.build_func_name not in (*SYNTHESIS_FUNCS, REVISED_SYNTHESIS):
        raise UnsupportedNetworkError(label, f"unknown TensorFlow synthesis network {synthesis.build_func_name!r}")
    extra = sorted(set(network.components) - {"mapping", "synthesis"})
    if extra:
        raise UnsupportedNetworkError(label, f"TensorFlow generator with unknown components: {', '.join(extra)}")
    return mapping, synthesis


# --- settings -> our constructor arguments ---------------------------------------------------------


def generator_kwargs(settings: dict[str, Any], variables: dict[str, np.ndarray], revised: bool,
                     label: str) -> dict[str, Any]:
    """Our StyleGAN2 constructor kwargs for a TF generator's `static_kwargs` (legacy.py's mapping)."""
    known = set(TF_DEFAULTS) | TF_RUNTIME_SETTINGS | TF_CHECKED_SETTINGS
    unknown = sorted(set(settings) - known)
    if unknown:
        raise UnsupportedNetworkError(
            label, f"unknown TensorFlow generator setting {unknown[0]!r}: cannot tell how it changes the network"
        )

    def get(name: str) -> Any:
        value = settings.get(name)
        return TF_DEFAULTS[name] if value is None else value

    def integer(name: str, minimum: int) -> int:
        value = get(name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if type(value) is not int or value < minimum:
            raise UnsupportedNetworkError(label, f"TensorFlow setting {name}={value!r} is not an integer >= {minimum}")
        return value

    def choice(name: str, allowed: tuple[str, ...]) -> str:
        value = get(name)
        if value not in allowed:
            raise UnsupportedNetworkError(label, f"TensorFlow setting {name}={value!r} is not one of {allowed}")
        return value

    z_dim, c_dim, w_dim = integer("latent_size", 1), integer("label_size", 0), integer("dlatent_size", 1)
    resolution, img_channels = integer("resolution", 4), integer("num_channels", 1)
    fmap_base, fmap_max, fmap_min = integer("fmap_base", 1), integer("fmap_max", 1), integer("fmap_min", 0)
    if resolution & (resolution - 1):
        raise UnsupportedNetworkError(label, f"TensorFlow setting resolution={resolution} is not a power of two")
    if get("fmap_decay") != 1:
        raise UnsupportedNetworkError(label, f"TensorFlow setting fmap_decay={get('fmap_decay')!r} is not supported "
                                             "(only 1, as every released StyleGAN2 uses)")
    channel_base = 2 * fmap_base
    resolutions = [2**i for i in range(2, int(np.log2(resolution)) + 1)]
    if any(min(channel_base // res, fmap_max) < fmap_min for res in resolutions):
        raise UnsupportedNetworkError(label, f"TensorFlow setting fmap_min={fmap_min} raises channel counts; "
                                             "not supported")
    fmap_const = settings.get("fmap_const")
    if fmap_const is not None and fmap_const != min(channel_base // 4, fmap_max):
        raise UnsupportedNetworkError(label, f"TensorFlow setting fmap_const={fmap_const!r} is not supported")
    if settings.get("normalize_latents", True) is not True:
        raise UnsupportedNetworkError(label, "TensorFlow setting normalize_latents=False is not supported")
    if settings.get("mapping_func", "G_mapping") != "G_mapping":
        raise UnsupportedNetworkError(label, f"unknown TensorFlow mapping_func {settings['mapping_func']!r}")
    if "mapping/LabelConcat/weight" in variables:
        raise UnsupportedNetworkError(label, "a conditional StyleGAN2 (TF) generator with the original LabelConcat "
                                             "label input; only StyleGAN2-ADA's LabelEmbed is supported")
    kernel = settings.get("resample_kernel", TF_DEFAULTS["resample_kernel"])
    if kernel is None:
        raise UnsupportedNetworkError(label, "TensorFlow setting resample_kernel=None (box filter) is not supported")
    if not (isinstance(kernel, list) and 1 <= len(kernel) <= 16
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in kernel)):
        raise UnsupportedNetworkError(label, f"TensorFlow setting resample_kernel={kernel!r} is not a list of numbers")
    conv_clamp = settings.get("conv_clamp")
    if conv_clamp is not None and (not isinstance(conv_clamp, (int, float)) or isinstance(conv_clamp, bool)
                                   or conv_clamp <= 0):
        raise UnsupportedNetworkError(label, f"TensorFlow setting conv_clamp={conv_clamp!r} is not a positive number")
    use_noise = get("use_noise")
    if not isinstance(use_noise, bool):
        raise UnsupportedNetworkError(label, f"TensorFlow setting use_noise={use_noise!r} is not a boolean")
    lrmul = get("mapping_lrmul")
    if not isinstance(lrmul, (int, float)) or isinstance(lrmul, bool) or lrmul <= 0:
        raise UnsupportedNetworkError(label, f"TensorFlow setting mapping_lrmul={lrmul!r} is not a positive number")
    num_layers = integer("mapping_layers", 1)
    architecture = "orig" if revised else choice("architecture", ("orig", "skip", "resnet"))
    return {
        "z_dim": z_dim,
        "c_dim": c_dim,
        "w_dim": w_dim,
        "img_resolution": resolution,
        "img_channels": img_channels,
        "channel_base": channel_base,
        "channel_max": fmap_max,
        "num_fp16_res": integer("num_fp16_res", 0),
        "conv_clamp": conv_clamp,
        "architecture": architecture,
        "resample_filter": [float(v) for v in kernel],
        "use_noise": use_noise,
        "activation": choice("nonlinearity", ACTIVATIONS),
        "mapping_kwargs": {
            "num_layers": num_layers,
            "embed_features": _width(settings, "label_fmaps", variables, "mapping/LabelEmbed/weight", z_dim)
            if c_dim > 0 else None,
            "layer_features": _width(settings, "mapping_fmaps", variables, "mapping/Dense0/weight", w_dim)
            if num_layers > 1 else None,
            "activation": choice("mapping_nonlinearity", ACTIVATIONS),
            "lr_multiplier": float(lrmul),
            "w_avg_beta": 0.995,
        },
    }


def _width(settings: dict[str, Any], name: str, variables: dict[str, np.ndarray], tf_name: str,
           fallback: int) -> int:
    """A layer width the file states, or else the one its variable has (TF's default differs between releases)."""
    value = settings.get(name)
    if type(value) is int and value > 0:
        return value
    found = variables.get(tf_name)
    if isinstance(found, np.ndarray) and found.ndim == 2 and found.shape[1] > 0:
        return int(found.shape[1])
    return fallback


# --- the variable table ------------------------------------------------------------------------------


def variable_table(init_kwargs: dict[str, Any], revised: bool = False) -> list[TFVariable]:
    """Every TF variable the generator described by `init_kwargs` must have, with its target in our state dict."""
    z_dim, c_dim, w_dim = init_kwargs["z_dim"], init_kwargs["c_dim"], init_kwargs["w_dim"]
    mapping = init_kwargs["mapping_kwargs"]
    num_layers = mapping["num_layers"]
    table: list[TFVariable] = []
    embed = mapping["embed_features"] if c_dim > 0 else 0
    if c_dim > 0:
        table += [
            TFVariable("mapping/LabelEmbed/weight", "mapping.embed.weight", (c_dim, embed), dense_t),
            TFVariable("mapping/LabelEmbed/bias", "mapping.embed.bias", (embed,), same),
        ]
    hidden = mapping["layer_features"] or w_dim
    features = [z_dim + embed] + [hidden] * (num_layers - 1) + [w_dim]
    for i in range(num_layers):
        table += [
            TFVariable(f"mapping/Dense{i}/weight", f"mapping.fc{i}.weight", (features[i], features[i + 1]), dense_t),
            TFVariable(f"mapping/Dense{i}/bias", f"mapping.fc{i}.bias", (features[i + 1],), same),
        ]
    table.append(TFVariable("dlatent_avg", "mapping.w_avg", (w_dim,), same))

    resolution = init_kwargs["img_resolution"]
    log2 = int(np.log2(resolution))

    def channels(res: int) -> int:
        return min(init_kwargs["channel_base"] // res, init_kwargs["channel_max"])

    def modulated(tf: str, ours: str, c_in: int, c_out: int, res: int, noise: int, up: bool) -> list[TFVariable]:
        rows = [
            TFVariable(f"{tf}/weight", f"{ours}.weight", (3, 3, c_in, c_out), _conv_flipped if up else conv_hwio),
            TFVariable(f"{tf}/bias", f"{ours}.bias", (c_out,), same),
            TFVariable(f"{tf}/mod_weight", f"{ours}.affine.weight", (w_dim, c_in), dense_t),
            TFVariable(f"{tf}/mod_bias", f"{ours}.affine.bias", (c_in,), _style_bias),
        ]
        if init_kwargs["use_noise"]:
            rows += [
                TFVariable(f"{tf}/noise_strength", f"{ours}.noise_strength", (), same),
                TFVariable(f"synthesis/noise{noise}", f"{ours}.noise_const", (1, 1, res, res), first_two),
            ]
        return rows

    architecture = init_kwargs["architecture"]
    img_channels = init_kwargs["img_channels"]
    table.append(TFVariable("synthesis/4x4/Const/const", "synthesis.b4.const", (1, channels(4), 4, 4),
                            first))
    for k in range(2, log2 + 1):
        res = 2**k
        tf, ours = f"synthesis/{res}x{res}", f"synthesis.b{res}"
        if res == 4:
            table += modulated(f"{tf}/Conv", f"{ours}.conv1", channels(4), channels(4), 4, 0, up=False)
        else:
            c_in, c_out = channels(res // 2), channels(res)
            table += modulated(f"{tf}/Conv0_up", f"{ours}.conv0", c_in, c_out, res, 2 * k - 5, up=True)
            table += modulated(f"{tf}/Conv1", f"{ours}.conv1", c_out, c_out, res, 2 * k - 4, up=False)
            if architecture == "resnet":
                table.append(TFVariable(f"{tf}/Skip/weight", f"{ours}.skip.weight", (1, 1, c_in, c_out),
                                        _conv_flipped))
        if architecture == "skip" or res == resolution:
            rgb = "synthesis/ToRGB_lod0" if revised else f"{tf}/ToRGB"
            table += [
                TFVariable(f"{rgb}/weight", f"{ours}.torgb.weight", (1, 1, channels(res), img_channels), conv_hwio),
                TFVariable(f"{rgb}/bias", f"{ours}.torgb.bias", (img_channels,), same),
                TFVariable(f"{rgb}/mod_weight", f"{ours}.torgb.affine.weight", (w_dim, channels(res)), dense_t),
                TFVariable(f"{rgb}/mod_bias", f"{ours}.torgb.affine.bias", (channels(res),), _style_bias),
            ]
    return table


def filter_buffers(init_kwargs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The resampling-filter buffers our modules hold; TF computes them from `resample_kernel` instead."""
    f = setup_filter(init_kwargs["resample_filter"])
    out: dict[str, torch.Tensor] = {}
    for k in range(2, int(np.log2(init_kwargs["img_resolution"])) + 1):
        res = 2**k
        names = [f"synthesis.b{res}.resample_filter", f"synthesis.b{res}.conv1.resample_filter"]
        if res > 4:
            names.append(f"synthesis.b{res}.conv0.resample_filter")
            if init_kwargs["architecture"] == "resnet":
                names.append(f"synthesis.b{res}.skip.resample_filter")
        out.update({name: f.clone() for name in names})
    return out


def _ignorable(name: str, revised: bool, log2: int) -> bool:
    """TF variables that exist in real files but do not take part in a finished generator's output."""
    if name == "lod":
        return True  # G_main's progressive-growing level; only the revised synthesis reads it (checked there)
    if revised:
        if name == "synthesis/lod":
            return True
        found = re.fullmatch(r"synthesis/ToRGB_lod(\d+)/(weight|bias|mod_weight|mod_bias)", name)
        return found is not None and 1 <= int(found.group(1)) <= log2 - 2  # the lower-resolution outputs
    return False


def _check_variables(variables: dict[str, np.ndarray], table: list[TFVariable], init_kwargs: dict[str, Any],
                     revised: bool, label: str) -> None:
    expected = {entry.tf_name: entry.shape for entry in table}
    missing = [name for name in expected if name not in variables]
    if missing:
        more = f" (+{len(missing) - _LISTED} more)" if len(missing) > _LISTED else ""
        raise UnsupportedNetworkError(label, f"TensorFlow variables missing: {', '.join(missing[:_LISTED])}{more}")
    for name, shape in expected.items():
        found = variables[name]
        if tuple(found.shape) != shape:
            raise UnsupportedNetworkError(
                label, f"TensorFlow variable {name} has shape {list(found.shape)}, expected {list(shape)}"
            )
        if found.dtype.kind != "f":
            raise UnsupportedNetworkError(label, f"TensorFlow variable {name} is {found.dtype}, not floating point")
        if not np.isfinite(found).all():
            raise UnsupportedNetworkError(label, f"TensorFlow variable {name} holds NaN or infinite values")
    log2 = int(np.log2(init_kwargs["img_resolution"]))
    unknown = [name for name in variables if name not in expected and not _ignorable(name, revised, log2)]
    if unknown:
        more = f" (+{len(unknown) - _LISTED} more)" if len(unknown) > _LISTED else ""
        raise UnsupportedNetworkError(
            label, f"unexpected TensorFlow variables for this configuration: {', '.join(unknown[:_LISTED])}{more}"
        )
    if revised:
        for name in ("lod", "synthesis/lod"):
            value = variables.get(name)
            if value is None:
                continue
            if value.size != 1:
                raise UnsupportedNetworkError(label, f"TensorFlow variable {name} has shape {list(value.shape)}, "
                                                     "expected []")
            if float(value.reshape(-1)[0]) != 0:
                raise UnsupportedNetworkError(
                    label, f"saved during progressive growing ({name}={float(value.reshape(-1)[0]):g}); "
                           "only finished networks (lod 0) can be rendered"
                )
