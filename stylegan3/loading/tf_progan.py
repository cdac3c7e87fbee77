"""Map a TensorFlow Progressive GAN generator (`G_paper`) onto our `progan` network.

Two code bases wrote these files, with one difference that matters:
- tkarras/progressive_growing_of_gans (`tfutil.Network`, state version 2): the released networks were
  converted from Theano and use `<r>x<r>/Conv0` (nearest up-sampling, then a 3x3 convolution,
  `fused_scale=False`); networks trained with that TF code use the fused `Conv0_up`, whose weight is stored
  `[kh, kw, out, in]` (the transposed convolution's own layout);
- NVlabs/stylegan's `networks_progan.py` (a dnnlib `Network`): the same graph, but `Conv0_up/weight` is
  stored `[kh, kw, in, out]` like every other convolution and transposed at run time.
With as many input as output feature maps the shapes agree, so the writer is told by the pickled class
(`TFNetwork.origin`), never by the shapes. Everything else: `4x4/Dense/weight` [latent + labels, 16 nf(1)]
(gain sqrt(2)/4), `4x4/Conv`, `Conv1`, `ToRGB_lod{k}` [1, 1, C, channels], biases, and `lod`.
Conditional networks concatenate the label to z before the first pixel norm (`combo_in` in TF), which
our input stage does the same way.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from stylegan3.errors import UnsupportedNetworkError
from stylegan3.loading.parsed import ParsedNetwork
from stylegan3.loading.tf_legacy import TFNetwork
from stylegan3.loading.tf_tables import (
    MAX_FEATURES,
    Settings,
    TableEntry,
    check_and_convert,
    conv_hwio,
    conv_hwoi,
    dense_t,
    describe_table,
    lod_value,
    same,
)
from stylegan3.networks.tf_era import needed_rgb_levels

DEFAULTS: dict[str, Any] = {
    "num_channels": 1, "resolution": 32, "label_size": 0, "fmap_base": 8192, "fmap_decay": 1.0, "fmap_max": 512,
    "latent_size": None, "normalize_latents": True, "use_wscale": True, "use_pixelnorm": True,
    "pixelnorm_epsilon": 1e-8, "use_leakyrelu": True, "dtype": "float32", "fused_scale": True,
}  # fmt: skip
# Settings of training or of TF's graph; `mbstd_group_size` is the discriminator's (the Theano converter
# stores it in G's settings too).
RUNTIME_SETTINGS = frozenset({"structure", "is_template_graph", "mbstd_group_size"})


def convert_progan_generator(network: TFNetwork, label: str) -> ParsedNetwork:
    """A `ParsedNetwork` of our ProGAN from a TF `G_paper` network (either writer), refusing what does not fit."""
    if network.components:
        raise UnsupportedNetworkError(label, f"TensorFlow G_paper with components "
                                             f"({', '.join(sorted(network.components))}); ProGAN has none")
    variables = network.variables
    init_kwargs = generator_kwargs(network, variables, label)
    table = variable_table(init_kwargs, network.origin)
    log2 = int(math.log2(init_kwargs["img_resolution"]))
    state = check_and_convert(variables, table, _ignorable(init_kwargs, log2), label)
    writer = "tkarras/progressive_growing_of_gans" if network.origin == "tfutil" else "NVlabs/stylegan"
    extra = {
        "format": "tensorflow",
        **describe_table(table),
        "tf_functions": [network.build_func_name],
        "tf_writer": writer,
        "tf_static_kwargs": dict(network.static_kwargs),
        "tf_lod": init_kwargs["lod"],
        "tf_ignored_settings": sorted(set(network.static_kwargs) - set(DEFAULTS) - RUNTIME_SETTINGS),
    }
    return ParsedNetwork(kind="progan", class_name="Generator", init_kwargs=init_kwargs, state_dict=state,
                         extra=extra)


def generator_kwargs(network: TFNetwork, variables: dict[str, np.ndarray], label: str) -> dict[str, Any]:
    s = Settings(network.static_kwargs, DEFAULTS, label, "ProGAN")
    if s.get("dtype") != "float32":
        raise s.refuse(f"ProGAN setting dtype={s.get('dtype')!r} is not supported (only 'float32')")
    resolution = s.resolution()
    log2 = int(math.log2(resolution))
    channels = s.stage_channels(resolution)
    fmap_base, fmap_max = s.integer("fmap_base", 1, 1 << 24), s.integer("fmap_max", 1, MAX_FEATURES)
    z_dim = s.latent_width("latent_size", min(fmap_base, fmap_max))  # TF's default: nf(0)
    fused = s.flag("fused_scale")
    has_up = any(re.fullmatch(r"\d+x\d+/Conv0_up/weight", name) for name in variables)
    has_plain = any(re.fullmatch(r"\d+x\d+/Conv0/weight", name) for name in variables)
    if log2 > 2 and (has_up and has_plain or (fused and has_plain) or (not fused and has_up)):
        raise s.refuse(f"ProGAN setting fused_scale={fused} does not match its up-sampling layers "
                       f"({'Conv0_up' if has_up else 'Conv0'})")
    eps = s.number("pixelnorm_epsilon")
    lod = lod_value(variables, "lod", log2 - 2, label)
    return {
        "z_dim": z_dim,
        "c_dim": s.integer("label_size", 0, 100_000),
        "img_resolution": resolution,
        "img_channels": s.integer("num_channels", 1, 16),
        "channels": channels,
        "fused_scale": fused,
        "normalize_latents": s.flag("normalize_latents"),
        "use_pixelnorm": s.flag("use_pixelnorm"),
        "pixelnorm_epsilon": eps,
        "activation": "lrelu" if s.flag("use_leakyrelu") else "relu",
        "use_wscale": s.flag("use_wscale"),
        "lod": 0.0 if lod is None else lod,
    }


def variable_table(kw: dict[str, Any], origin: str) -> list[TableEntry]:
    """Every TF variable the described generator reads, with our tensor name and layout change."""
    resolution, channels, img_channels = kw["img_resolution"], kw["channels"], kw["img_channels"]
    log2 = int(math.log2(resolution))
    rgb = needed_rgb_levels(resolution, kw["lod"])
    table = [
        TableEntry("4x4/Dense/weight", "synthesis.b4_dense.weight", (kw["z_dim"] + kw["c_dim"], 16 * channels[0]),
                   dense_t, "transposed"),
        TableEntry("4x4/Dense/bias", "synthesis.b4_dense.bias", (channels[0],), same),
        TableEntry("4x4/Conv/weight", "synthesis.b4_conv.conv.weight", (3, 3, channels[0], channels[0]), conv_hwio,
                   "HWIO->OIHW"),
        TableEntry("4x4/Conv/bias", "synthesis.b4_conv.bias", (channels[0],), same),
    ]
    for i, res in enumerate(2**k for k in range(2, log2 + 1)):
        if res > rgb[-1]:
            break
        c_in, c_out = channels[max(i - 1, 0)], channels[i]
        if res > 4:
            scope, ours = f"{res}x{res}", f"synthesis.b{res}"
            if not kw["fused_scale"]:
                table.append(TableEntry(f"{scope}/Conv0/weight", f"{ours}_conv0.conv.weight", (3, 3, c_in, c_out),
                                        conv_hwio, "HWIO->OIHW"))
            elif origin == "tfutil":  # tkarras: the transposed convolution's [kh, kw, out, in]
                table.append(TableEntry(f"{scope}/Conv0_up/weight", f"{ours}_conv0.conv.weight", (3, 3, c_out, c_in),
                                        conv_hwoi, "HWOI->OIHW"))
            else:  # NVlabs/stylegan: [kh, kw, in, out], transposed by the graph
                table.append(TableEntry(f"{scope}/Conv0_up/weight", f"{ours}_conv0.conv.weight", (3, 3, c_in, c_out),
                                        conv_hwio, "HWIO->OIHW"))
            up = "Conv0_up" if kw["fused_scale"] else "Conv0"
            table += [
                TableEntry(f"{scope}/{up}/bias", f"{ours}_conv0.bias", (c_out,), same),
                TableEntry(f"{scope}/Conv1/weight", f"{ours}_conv1.conv.weight", (3, 3, c_out, c_out), conv_hwio,
                           "HWIO->OIHW"),
                TableEntry(f"{scope}/Conv1/bias", f"{ours}_conv1.bias", (c_out,), same),
            ]
        if res in rgb:
            tf = f"ToRGB_lod{log2 - i - 2}"
            table += [
                TableEntry(f"{tf}/weight", f"synthesis.b{res}_torgb.conv.weight", (1, 1, c_out, img_channels),
                           conv_hwio, "HWIO->OIHW"),
                TableEntry(f"{tf}/bias", f"synthesis.b{res}_torgb.bias", (img_channels,), same),
            ]
    return table


def _ignorable(kw: dict[str, Any], log2: int):
    """`lod`, the other levels' ToRGB and, below full resolution, the layers above the drawn level."""
    drawn = needed_rgb_levels(kw["img_resolution"], kw["lod"])[-1]

    def ignorable(name: str) -> bool:
        if name == "lod":
            return True
        found = re.fullmatch(r"ToRGB_lod(\d+)/(weight|bias)", name)
        if found is not None:
            return int(found.group(1)) <= log2 - 2
        found = re.fullmatch(r"(\d+)x\1/(Conv0|Conv0_up|Conv1)/(weight|bias)", name)
        return found is not None and drawn < int(found.group(1)) <= kw["img_resolution"]

    return ignorable
