"""Read TensorFlow-era network pickles (StyleGAN2 / StyleGAN2-ADA TF, StyleGAN v1, ProGAN) as data: `read_tf_pickle`.

Those files are a pickled `(G, D, Gs)` tuple of `dnnlib.tflib.network.Network` objects. Each one's
pickled state is a dict: `version`, `name`, `static_kwargs` (the build function's settings),
`components` (sub-networks by key, e.g. Gs's `mapping` and `synthesis`), `build_module_src` (the
Python source TensorFlow's loader execs; here it is never looked at beyond its type) and
`build_func_name`, and `variables`, a list of `(local name, numpy value)`. The safe unpickler turns
each Network into a `TFNetworkRecord`; this module checks that state, flattens the variables under
their component paths (`mapping/Dense0/weight`, `synthesis/4x4/Conv/weight`, `dlatent_avg`), says
what kind of network it is, and hands each generator to its family's mapping onto ours, chosen by the
build function and the pickled class (never by the `name`): `G_main` -> `tf_sg2`, `G_style` -> `tf_sgv1`,
`G_paper` -> `tf_progan`. ProGAN's own code wrote `tfutil.Network` (state version 2, no components); the
dnnlib writers version 3 (NVlabs/stylegan) and 4 (StyleGAN2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stylegan3.errors import UnsupportedNetworkError
from stylegan3.loading.parsed import ParsedNetwork
from stylegan3.loading.safe_unpickler import TFNetworkRecord, TFUtilNetworkRecord

# The state versions each generator's writers produced: (build function, pickled class) -> versions.
SUPPORTED_VERSIONS = {
    ("G_main", "dnnlib"): (4,),  # StyleGAN2, StyleGAN2-ADA (TF)
    ("G_style", "dnnlib"): (3, 4),  # NVlabs/stylegan writes 3; StyleGAN2's code re-saves as 4
    ("G_paper", "dnnlib"): (3, 4),  # NVlabs/stylegan's networks_progan.py
    ("G_paper", "tfutil"): (2,),  # tkarras/progressive_growing_of_gans
}
MAX_COMPONENT_DEPTH = 4
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_VARIABLE_NAME = re.compile(r"[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")
# Which slot of the (G, D, Gs) tuple each `key` picks; 'G_ema' (our default everywhere) is TF's Gs.
_TUPLE_KEYS = {"G": 0, "D": 1, "Gs": 2, "G_ema": 2}
_GENERATOR_FUNCS = ("G_main", "G_style", "G_paper")
_TITLES = {"G_main": "StyleGAN2", "G_style": "StyleGAN (v1)", "G_paper": "ProGAN"}


@dataclass
class TFNetwork:
    """One TensorFlow Network as plain data. `variables` holds only its own variables (local names)."""

    name: str
    version: int
    build_func_name: str
    static_kwargs: dict[str, Any]
    variables: dict[str, np.ndarray]
    components: dict[str, TFNetwork] = field(default_factory=dict)
    origin: str = "dnnlib"  # the pickled class: 'dnnlib' (dnnlib.tflib.network.Network) or 'tfutil' (ProGAN's)

    def all_variables(self) -> dict[str, np.ndarray]:
        """Own variables plus every component's, under `component/` prefixes (TF's `Network.vars` names)."""
        out = dict(self.variables)
        for key, component in self.components.items():
            out.update({f"{key}/{name}": value for name, value in component.all_variables().items()})
        return out

    def describe(self) -> str:
        """What this network is, in a few words, for refusals."""
        func = self.build_func_name
        if func.startswith("D_"):
            return f"a discriminator (TensorFlow, {func})"
        if func in _GENERATOR_FUNCS:
            return f"a {_TITLES[func]} generator (TensorFlow, {func})"
        return f"a TensorFlow network built by {func!r}"


def is_tf_pickle(top: Any) -> bool:
    """True for what TF-era files unpickle to: a Network, or a tuple holding Networks."""
    if isinstance(top, TFNetworkRecord):
        return True
    return isinstance(top, tuple) and any(isinstance(item, TFNetworkRecord) for item in top)


def read_tf_pickle(top: Any, key: str, label: str) -> ParsedNetwork:
    """The generator under `key` ('G_ema'/'Gs' or 'G') of an unpickled TF-era file, mapped onto our family."""
    from stylegan3.loading.tf_progan import convert_progan_generator
    from stylegan3.loading.tf_sg2 import convert_tf_generator
    from stylegan3.loading.tf_sgv1 import convert_sgv1_generator

    network = select_network(top, key, label)
    func = network.build_func_name
    if func not in _GENERATOR_FUNCS:
        raise UnsupportedNetworkError(label, f"{network.describe()}; only StyleGAN2 (G_main), StyleGAN (G_style) "
                                             "and ProGAN (G_paper) generators are supported")
    versions = SUPPORTED_VERSIONS.get((func, network.origin))
    if versions is None:
        raise UnsupportedNetworkError(label, f"{network.describe()} in a {network.origin} Network pickle, which "
                                             "no known code wrote")
    if network.version not in versions:
        expected = " or ".join(str(v) for v in versions)
        problem = (f"TensorFlow network version {network.version} is not supported for {_TITLES[func]} "
                   f"(expected {expected})")
        raise UnsupportedNetworkError(label, problem)
    convert = {"G_main": convert_tf_generator, "G_style": convert_sgv1_generator,
               "G_paper": convert_progan_generator}[func]
    parsed = convert(network, label)
    parsed.extra.update({"source": label, "key": key, "keys": ["G", "D", "Gs"] if isinstance(top, tuple) else []})
    return parsed


def select_network(top: Any, key: str, label: str) -> TFNetwork:
    """Pick and read the network `key` names: a (G, D, Gs) tuple by slot, a lone Network as itself."""
    if isinstance(top, TFNetworkRecord):
        network = read_tf_network(top, label)
        if network.build_func_name.startswith("D_"):
            raise UnsupportedNetworkError(label, f"a discriminator-only file ({network.describe()}), not a generator")
        return network
    if not (isinstance(top, tuple) and len(top) == 3 and all(isinstance(item, TFNetworkRecord) for item in top)):
        count = len(top) if isinstance(top, tuple) else 0
        raise UnsupportedNetworkError(label, f"a tuple of {count} items, not the (G, D, Gs) of a TensorFlow snapshot")
    if key not in _TUPLE_KEYS:
        raise UnsupportedNetworkError(label, f"no {key!r} in this TensorFlow pickle; it holds: 'G', 'D', 'Gs'")
    # Only the network asked for is read: an oddity in D (or G) must not keep Gs from loading.
    network = read_tf_network(top[_TUPLE_KEYS[key]], label)
    if network.build_func_name.startswith("D_"):
        raise UnsupportedNetworkError(label, f"{key!r} is {network.describe()}, not a generator")
    return network


def read_tf_network(record: TFNetworkRecord, label: str, where: str = "", depth: int = 0,
                    seen: set[int] | None = None) -> TFNetwork:
    """Check one Network's pickled state and turn it into a `TFNetwork` (components read recursively)."""
    seen = set() if seen is None else seen
    where = where or "network"
    if depth > MAX_COMPONENT_DEPTH:
        raise UnsupportedNetworkError(label, "TensorFlow networks nested too deeply")
    if id(record) in seen:
        raise UnsupportedNetworkError(label, f"TensorFlow network {where} appears more than once")
    seen.add(id(record))
    state = record.state
    if not isinstance(state, dict):
        raise UnsupportedNetworkError(label, f"TensorFlow {where} has no state")
    version = state.get("version")
    name = state.get("name")
    func = state.get("build_func_name")
    if type(version) is not int:
        raise UnsupportedNetworkError(label, f"TensorFlow {where} has no version number")
    for field_name, value in (("name", name), ("build_func_name", func)):
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise UnsupportedNetworkError(label, f"TensorFlow {where} has an invalid {field_name} {value!r}")
    source = state.get("build_module_src")
    if source is not None and not isinstance(source, str):  # kept only as a type check: never read, never run
        raise UnsupportedNetworkError(label, f"TensorFlow {where}: build_module_src is not text")
    static_kwargs = _static_kwargs(state.get("static_kwargs", {}), label, where)
    variables = _variables(state.get("variables", []), label, where)
    components_state = state.get("components") or {}
    if not isinstance(components_state, dict):
        raise UnsupportedNetworkError(label, f"TensorFlow {where}: components is not a dict")
    components = {}
    for key, child in components_state.items():
        if not isinstance(key, str) or not _NAME.fullmatch(key):
            raise UnsupportedNetworkError(label, f"TensorFlow {where}: invalid component name {key!r}")
        if not isinstance(child, TFNetworkRecord):
            problem = f"TensorFlow {where}: component {key!r} is a {type(child).__name__}, not a network"
            raise UnsupportedNetworkError(label, problem)
        if type(child) is not type(record):
            raise UnsupportedNetworkError(label, f"TensorFlow {where}: component {key!r} is another kind of Network")
        components[key] = read_tf_network(child, label, f"{where}/{key}", depth + 1, seen)
    origin = "tfutil" if isinstance(record, TFUtilNetworkRecord) else "dnnlib"
    return TFNetwork(name, version, func, static_kwargs, variables, components, origin)


def _static_kwargs(value: Any, label: str, where: str) -> dict[str, Any]:
    from stylegan3.loading.official import plain_value

    if not isinstance(value, dict):
        raise UnsupportedNetworkError(label, f"TensorFlow {where}: static_kwargs is not a dict")
    try:
        return plain_value(value)
    except ValueError as exc:
        raise UnsupportedNetworkError(label, f"TensorFlow {where}: static_kwargs hold non-plain data: {exc}") from None


def _variables(value: Any, label: str, where: str) -> dict[str, np.ndarray]:
    if not isinstance(value, (list, tuple)):
        raise UnsupportedNetworkError(label, f"TensorFlow {where}: variables is not a list")
    out: dict[str, np.ndarray] = {}
    for entry in value:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)):
            raise UnsupportedNetworkError(label, f"TensorFlow {where}: a variable entry is not a (name, value) pair")
        name, array = entry
        if not _VARIABLE_NAME.fullmatch(name):
            raise UnsupportedNetworkError(label, f"TensorFlow {where}: invalid variable name {name!r}")
        if name in out:
            raise UnsupportedNetworkError(label, f"TensorFlow {where}: variable {name} appears twice")
        if isinstance(array, (bool, int, float)):  # a 0-d variable, read back from a numpy scalar
            array = np.asarray(array, dtype=np.float32)
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiub":
            raise UnsupportedNetworkError(label, f"TensorFlow {where}: variable {name} is not a numeric array")
        out[name] = array
    return out
