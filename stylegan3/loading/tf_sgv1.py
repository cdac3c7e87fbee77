"""Map a TensorFlow StyleGAN (v1) generator (`G_style` + `G_mapping` + `G_synthesis`) onto our `sgv1` network.

What NVlabs/stylegan's build functions create, from their settings (each component's own `static_kwargs`;
G_style's for truncation):
- mapping: `LabelConcat/weight` [label_size, latent_size] (conditional nets), `Dense{i}/weight` [in, out]
  and `/bias`; G_style's `dlatent_avg` [dlatent_size] and `lod`;
- synthesis: `lod`, `noise{i}` [1, 1, r, r] per layer, `4x4/Const/const` [1, nf(1), 4, 4], convolutions
  `weight` [kh, kw, in, out] (Conv0_up keeps this layout whether fused or not: only `fused_scale` decides),
  per layer `Noise/weight` [C], `bias` [C], `StyleMod/weight` [dlatent_size, 2C] and `/bias`, and one
  `ToRGB_lod{k}` per level of detail.
`fused_scale='auto'` fuses the up-sampling convolutions whose output is at least 128x128. The drawn level
is G_style's `lod` (G_style writes it into the synthesis network before every run): 0 renders the final
ToRGB, anything else the faded image TF draws; the levels above it are not read.
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
    dense_t,
    describe_table,
    first,
    first_two,
    lod_value,
    same,
)
from stylegan3.networks.tf_era import needed_rgb_levels

MAPPING_DEFAULTS: dict[str, Any] = {
    "latent_size": 512, "label_size": 0, "dlatent_size": 512, "mapping_layers": 8, "mapping_fmaps": 512,
    "mapping_lrmul": 0.01, "mapping_nonlinearity": "lrelu", "use_wscale": True, "normalize_latents": True,
    "dtype": "float32",
}  # fmt: skip
SYNTHESIS_DEFAULTS: dict[str, Any] = {
    "dlatent_size": 512, "num_channels": 3, "resolution": 1024, "fmap_base": 8192, "fmap_decay": 1.0,
    "fmap_max": 512, "use_styles": True, "const_input_layer": True, "use_noise": True, "nonlinearity": "lrelu",
    "use_wscale": True, "use_pixel_norm": False, "use_instance_norm": True, "dtype": "float32",
    "fused_scale": "auto", "blur_filter": [1, 2, 1],
}  # fmt: skip
STYLE_DEFAULTS: dict[str, Any] = {"truncation_psi": 0.7, "truncation_cutoff": 8}
# Settings that change training, validation or TF's graph only, not what a finished generator computes.
RUNTIME_SETTINGS = frozenset({
    "truncation_psi_val", "truncation_cutoff_val", "dlatent_avg_beta", "style_mixing_prob", "is_training",
    "is_validation", "randomize_noise", "structure", "dlatent_broadcast", "force_clean_graph",
})  # fmt: skip
KNOWN = frozenset(MAPPING_DEFAULTS) | frozenset(SYNTHESIS_DEFAULTS) | frozenset(STYLE_DEFAULTS) | RUNTIME_SETTINGS
AUTO_FUSED_MIN_RES = 128  # fused_scale='auto': fused when the output is at least 128x128


def convert_sgv1_generator(network: TFNetwork, label: str) -> ParsedNetwork:
    """A `ParsedNetwork` of our StyleGAN (v1) from a TF `G_style` network, refusing anything that does not fit."""
    mapping, synthesis = _components(network, label)
    variables = network.all_variables()
    init_kwargs = generator_kwargs(network, mapping, synthesis, variables, label)
    table = variable_table(init_kwargs)
    log2 = int(math.log2(init_kwargs["img_resolution"]))
    state = check_and_convert(variables, table, _ignorable(init_kwargs, log2), label)
    settings = network.static_kwargs
    extra = {
        "format": "tensorflow",
        **describe_table(table),
        "tf_functions": [network.build_func_name, mapping.build_func_name, synthesis.build_func_name],
        "tf_static_kwargs": {**synthesis.static_kwargs, **mapping.static_kwargs, **settings},
        "tf_truncation_psi": settings.get("truncation_psi", STYLE_DEFAULTS["truncation_psi"]),
        "tf_truncation_cutoff": init_kwargs["mapping_kwargs"]["truncation_cutoff"],
        "tf_lod": init_kwargs["lod"],
        "tf_ignored_settings": sorted({name for net in (network, mapping, synthesis)
                                       for name in net.static_kwargs if name not in KNOWN}),
    }
    return ParsedNetwork(kind="sgv1", class_name="Generator", init_kwargs=init_kwargs, state_dict=state, extra=extra)


def _components(network: TFNetwork, label: str) -> tuple[TFNetwork, TFNetwork]:
    mapping, synthesis = network.components.get("mapping"), network.components.get("synthesis")
    if mapping is None or synthesis is None:
        present = ", ".join(sorted(network.components)) or "none"
        raise UnsupportedNetworkError(label, f"TensorFlow G_style without mapping and synthesis networks "
                                             f"(components: {present})")
    if mapping.build_func_name != "G_mapping":
        raise UnsupportedNetworkError(label, f"unknown StyleGAN mapping network {mapping.build_func_name!r}")
    if synthesis.build_func_name != "G_synthesis":
        raise UnsupportedNetworkError(label, f"unknown StyleGAN synthesis network {synthesis.build_func_name!r}")
    extra = sorted(set(network.components) - {"mapping", "synthesis"})
    if extra:
        raise UnsupportedNetworkError(label, f"TensorFlow G_style with unknown components: {', '.join(extra)}")
    return mapping, synthesis


def generator_kwargs(network: TFNetwork, mapping: TFNetwork, synthesis: TFNetwork, variables: dict[str, np.ndarray],
                     label: str) -> dict[str, Any]:
    """Our constructor kwargs from the three networks' settings (each read with its build function's defaults)."""
    style = Settings(network.static_kwargs, STYLE_DEFAULTS, label, "StyleGAN")
    m = Settings(mapping.static_kwargs, MAPPING_DEFAULTS, label, "StyleGAN mapping")
    s = Settings(synthesis.static_kwargs, SYNTHESIS_DEFAULTS, label, "StyleGAN synthesis")
    for settings, name, value in ((s, "use_styles", True), (s, "const_input_layer", True), (s, "dtype", "float32"),
                                  (m, "dtype", "float32")):
        if settings.get(name) != value:
            raise settings.refuse(f"StyleGAN setting {name}={settings.get(name)!r} is not supported "
                                  f"(only {value!r}, as every released StyleGAN uses)")
    resolution = s.resolution()
    log2 = int(math.log2(resolution))
    w_dim = m.integer("dlatent_size", 1, MAX_FEATURES)
    if s.integer("dlatent_size", 1, MAX_FEATURES) != w_dim:
        raise s.refuse("the StyleGAN mapping and synthesis networks disagree on dlatent_size")
    fused = s.choice("fused_scale", ("auto", True, False))
    fused_min_res = AUTO_FUSED_MIN_RES if fused == "auto" else (8 if fused else None)
    blur = s.raw("blur_filter")
    if blur is not None and not (isinstance(blur, list) and 1 <= len(blur) <= 8 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in blur)
            and sum(blur) != 0):
        raise s.refuse(f"StyleGAN setting blur_filter={blur!r} is not a short list of numbers")
    cutoff = style.raw("truncation_cutoff")
    if cutoff is not None and (type(cutoff) is not int or cutoff < 0):
        raise style.refuse(f"StyleGAN setting truncation_cutoff={cutoff!r} is not a whole number of layers")
    lod = _drawn_lod(variables, log2, label)
    return {
        "z_dim": m.integer("latent_size", 1, MAX_FEATURES),
        "c_dim": m.integer("label_size", 0, 100_000),
        "w_dim": w_dim,
        "img_resolution": resolution,
        "img_channels": s.integer("num_channels", 1, 16),
        "channels": s.stage_channels(resolution),
        "fused_min_res": fused_min_res,
        "blur_filter": [float(v) for v in blur] if blur else None,
        "use_noise": s.flag("use_noise"),
        "activation": s.choice("nonlinearity", ("lrelu", "relu")),
        "use_pixel_norm": s.flag("use_pixel_norm"),
        "use_instance_norm": s.flag("use_instance_norm"),
        "use_wscale": s.flag("use_wscale"),
        "lod": lod,
        "mapping_kwargs": {
            "num_layers": m.integer("mapping_layers", 1, 64),
            "layer_features": m.integer("mapping_fmaps", 1, MAX_FEATURES),
            "lr_multiplier": m.number("mapping_lrmul"),
            "activation": m.choice("mapping_nonlinearity", ("lrelu", "relu")),
            "normalize_latents": m.flag("normalize_latents"),
            "use_wscale": m.flag("use_wscale"),
            # TF: a cutoff of 0 (or None) disables truncation; ours says so with 0 layers.
            "truncation_cutoff": 0 if cutoff is None else cutoff,
        },
    }


def _drawn_lod(variables: dict[str, np.ndarray], log2: int, label: str) -> float:
    """G_style's `lod` (what it assigns to the synthesis network before drawing), checked against the synthesis's."""
    top = lod_value(variables, "lod", log2 - 2, label)
    inner = lod_value(variables, "synthesis/lod", log2 - 2, label)
    if top is None:
        return 0.0 if inner is None else inner
    return top


def variable_table(kw: dict[str, Any]) -> list[TableEntry]:
    """Every TF variable (Gs.vars names) the described generator reads, with our tensor name and layout."""
    z_dim, c_dim, w_dim = kw["z_dim"], kw["c_dim"], kw["w_dim"]
    mk = kw["mapping_kwargs"]
    table: list[TableEntry] = []
    if c_dim > 0:
        table.append(TableEntry("mapping/LabelConcat/weight", "mapping.embed", (c_dim, z_dim), dense_t, "transposed"))
    widths = [z_dim * (2 if c_dim else 1)] + [mk["layer_features"]] * (mk["num_layers"] - 1) + [w_dim]
    for i in range(mk["num_layers"]):
        table += [
            TableEntry(f"mapping/Dense{i}/weight", f"mapping.fc{i}.weight", (widths[i], widths[i + 1]), dense_t,
                       "transposed"),
            TableEntry(f"mapping/Dense{i}/bias", f"mapping.fc{i}.bias", (widths[i + 1],), same),
        ]
    table.append(TableEntry("dlatent_avg", "mapping.w_avg", (w_dim,), same))
    resolution, channels = kw["img_resolution"], kw["channels"]
    log2 = int(math.log2(resolution))
    rgb = needed_rgb_levels(resolution, kw["lod"])

    def layer(scope: str, ours: str, idx: int, c_in: int, c_out: int, res: int, conv: bool) -> list[TableEntry]:
        tf = f"synthesis/{scope}"
        rows = []
        if conv:
            rows.append(TableEntry(f"{tf}/weight", f"{ours}.conv.weight", (3, 3, c_in, c_out), conv_hwio,
                                   "HWIO->OIHW"))
        if kw["use_noise"]:
            rows += [
                TableEntry(f"synthesis/noise{idx}", f"{ours}.noise_const", (1, 1, res, res), first_two, "[0, 0]"),
                TableEntry(f"{tf}/Noise/weight", f"{ours}.noise_strength", (c_out,), same),
            ]
        rows += [
            TableEntry(f"{tf}/bias", f"{ours}.bias", (c_out,), same),
            TableEntry(f"{tf}/StyleMod/weight", f"{ours}.style.weight", (w_dim, 2 * c_out), dense_t, "transposed"),
            TableEntry(f"{tf}/StyleMod/bias", f"{ours}.style.bias", (2 * c_out,), same),
        ]
        return rows

    for i, res in enumerate(2**k for k in range(2, log2 + 1)):
        if res > rgb[-1]:
            break
        scope, ours = f"{res}x{res}", f"synthesis.b{res}"
        c_out = channels[i]
        if res == 4:
            table.append(TableEntry("synthesis/4x4/Const/const", f"{ours}.input.const", (1, c_out, 4, 4), first,
                                    "[0]"))
            table += layer("4x4/Const", f"{ours}.input", 0, c_out, c_out, 4, conv=False)
            table += layer("4x4/Conv", f"{ours}.conv1", 1, c_out, c_out, 4, conv=True)
        else:
            table += layer(f"{scope}/Conv0_up", f"{ours}.conv0", 2 * i, channels[i - 1], c_out, res, conv=True)
            table += layer(f"{scope}/Conv1", f"{ours}.conv1", 2 * i + 1, c_out, c_out, res, conv=True)
        if res in rgb:
            tf = f"synthesis/ToRGB_lod{log2 - i - 2}"
            table += [
                TableEntry(f"{tf}/weight", f"{ours}.torgb.conv.weight", (1, 1, c_out, kw["img_channels"]), conv_hwio,
                           "HWIO->OIHW"),
                TableEntry(f"{tf}/bias", f"{ours}.torgb.bias", (kw["img_channels"],), same),
            ]
    return table


def _ignorable(kw: dict[str, Any], log2: int):
    """Variables a finished generator has but does not read: the lods, the other levels' ToRGB and, for a
    snapshot drawn below full resolution, the layers above the drawn level."""
    drawn = needed_rgb_levels(kw["img_resolution"], kw["lod"])[-1]
    drawn_log2 = int(math.log2(drawn))

    def ignorable(name: str) -> bool:
        if name in ("lod", "synthesis/lod"):
            return True
        found = re.fullmatch(r"synthesis/ToRGB_lod(\d+)/(weight|bias)", name)
        if found is not None:
            return int(found.group(1)) <= log2 - 2
        found = re.fullmatch(r"synthesis/(\d+)x\1/(Conv0_up|Conv1)/(weight|bias|Noise/weight|StyleMod/weight|"
                             r"StyleMod/bias)", name)
        if found is not None:
            return drawn < int(found.group(1)) <= kw["img_resolution"]
        found = re.fullmatch(r"synthesis/noise(\d+)", name)
        return found is not None and 2 * drawn_log2 - 2 <= int(found.group(1)) < 2 * log2 - 2

    return ignorable
