"""Bad and hostile network files: each gives one clear line naming the file, and nothing from it runs."""

from __future__ import annotations

import collections
import io
import os
import pickle
import subprocess
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from stylegan3.errors import NetworkLoadError, UnsafePickleError, UnsupportedNetworkError
from stylegan3.loading import load_network, read_network, read_official_pickle
from tests.support.hostile import Reduce, load_error, write_file
from tests.support.nets import tiny_net
from tests.support.official_fakes import (
    SG3_MODULE_SRC,
    Persistent,
    dump_official,
    module_state,
    official_pickle_bytes,
    official_top,
    official_tree,
)


@pytest.fixture(scope="module")
def good_pickle() -> bytes:
    return official_pickle_bytes(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))


# --- not network files at all ---------------------------------------------------------------------


def test_missing_file(tmp_path):
    assert "no such file" in load_error(tmp_path / "absent.pkl")


def test_directory(tmp_path):
    assert "is a directory" in load_error(tmp_path)


def test_empty_file(tmp_path):
    assert "the file is empty" in load_error(write_file(tmp_path, "empty.pkl", b""))


def test_random_bytes(tmp_path):
    data = np.random.RandomState(0).bytes(4096)
    assert data[0] != 0x80
    assert "unrecognised content" in load_error(write_file(tmp_path, "noise.pkl", data))


def test_random_bytes_behind_a_pickle_header(tmp_path):
    data = b"\x80\x04" + np.random.RandomState(1).bytes(4096)
    message = load_error(write_file(tmp_path, "noise.pkl", data))
    assert "pickle" in message


def test_text_file(tmp_path):
    path = write_file(tmp_path, "page.pkl", b"<!DOCTYPE html><html><body>404 Not Found</body></html>\n" * 4)
    assert "a text file" in load_error(path)


def test_zip_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"w": torch.ones(2)}, path)
    assert zipfile.is_zipfile(path)
    assert "zip archive" in load_error(path)


@pytest.mark.parametrize("fraction", [0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999])
def test_truncated_pickle(tmp_path, good_pickle, fraction):
    path = write_file(tmp_path, "cut.pkl", good_pickle[: int(len(good_pickle) * fraction)])
    message = load_error(path)
    assert "truncated" in message or "corrupt" in message


def test_truncated_pickle_says_truncated(tmp_path, good_pickle):
    assert "truncated pickle" in load_error(write_file(tmp_path, "cut.pkl", good_pickle[:-1]))


# --- code-execution attempts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload, refused",
    [
        (lambda marker: Reduce(os.system, f"touch {marker}"), "system"),
        (lambda marker: Reduce(eval, f"open({str(marker)!r}, 'w')"), "builtins.eval"),
        (lambda marker: Reduce(exec, f"open({str(marker)!r}, 'w')"), "builtins.exec"),
        (lambda marker: Reduce(subprocess.Popen, ["touch", str(marker)]), "subprocess.Popen"),
        (lambda marker: Reduce(getattr, "text", "format"), "builtins.getattr"),
        (lambda marker: Reduce(__import__, "os"), "builtins.__import__"),
    ],
)
def test_code_execution_payloads_are_refused(tmp_path, payload, refused):
    marker = tmp_path / "pwned"
    # The payload hides among legitimate data, inside the generator's constructor kwargs.
    tree = official_tree(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))
    tree.meta["state"]["_init_kwargs"]["evil"] = payload(marker)
    path = write_file(tmp_path, "evil.pkl", dump_official(official_top(tree)))
    message = load_error(path, UnsafePickleError)
    assert refused in message and "refused to load" in message
    assert not marker.exists()


@pytest.mark.parametrize("module", [b"os", b"posix", b"nt", b"subprocess"])
def test_hand_written_global_opcodes_are_refused(tmp_path, module):
    marker = tmp_path / "pwned"
    # protocol 2: GLOBAL 'module system', the argument tuple, REDUCE
    data = (b"\x80\x02c" + module + b"\nsystem\nX" + len(f"touch {marker}").to_bytes(4, "little")
            + f"touch {marker}".encode() + b"\x85R.")
    message = load_error(write_file(tmp_path, "evil.pkl", data), UnsafePickleError)
    assert f"'{module.decode()}.system'" in message
    assert not marker.exists()


def test_planted_module_source_never_runs(tmp_path):
    marker = tmp_path / "module_src_ran"
    planted = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n" + SG3_MODULE_SRC
    # The planted code is real: executing it (as NVIDIA's loader does) creates a marker.
    check = tmp_path / "check"
    exec(compile(planted.replace(str(marker), str(check)), "planted", "exec"), {})  # noqa: S102
    assert check.exists()

    G = tiny_net("SG3-T", res=16, perturb=0.01)
    path = write_file(tmp_path, "planted.pkl", dump_official(official_top(official_tree(G, planted))))
    loaded = load_network(path, device="cpu")
    assert not marker.exists()
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in G.state_dict().items())


def test_hostile_storage_blob_is_refused(tmp_path):
    """A tensor's storage bytes are a torch.save blob: one carrying a payload must not run either."""
    marker = tmp_path / "pwned"
    blob = pickle.dumps(Reduce(os.system, f"touch {marker}"), protocol=2)
    data = b"\x80\x04" + _short_str(b"torch.storage") + _short_str(b"_load_from_bytes") + b"\x93"
    data += _binbytes(blob) + b"\x85R."
    message = load_error(write_file(tmp_path, "blob.pkl", data), UnsafePickleError)
    assert "refused a tensor storage that asks for 'posix.system'" in message
    assert not marker.exists()


def _short_str(text: bytes) -> bytes:
    return b"\x8c" + bytes([len(text)]) + text


def _binbytes(data: bytes) -> bytes:
    return b"B" + len(data).to_bytes(4, "little") + data


def test_persistent_ids_are_refused(tmp_path):
    data = b"\x80\x02X\x03\x00\x00\x00abcQ."  # BINPERSID
    assert "persistent id" in load_error(write_file(tmp_path, "pid.pkl", data), UnsafePickleError)


def test_forged_tensor_size_does_not_allocate(tmp_path):
    data = pickle.dumps({"t": torch.ones(4)}, protocol=3)  # no framing, so bytes can be edited in place
    forged = data.replace(b"K\x04\x85", b"J\x00\xca\x9a\x3b\x85", 1)  # size (4,) -> (10**9,)
    assert forged != data
    message = load_error(write_file(tmp_path, "big.pkl", forged))
    assert "does not fit its storage" in message


def test_object_dtype_numpy_is_refused(tmp_path):
    data = dump_official({"G_ema": np.array([1, "x"], dtype=object)})
    assert "not a plain numeric type" in load_error(write_file(tmp_path, "obj.pkl", data))


def test_self_referencing_data_is_refused(tmp_path):
    loop: list = []
    loop.append(loop)
    assert "cyclic" in load_error(write_file(tmp_path, "loop.pkl", pickle.dumps({"G_ema": loop}, protocol=4)))


# --- readable but not a supported generator -------------------------------------------------------


def test_dict_without_the_key(tmp_path):
    path = write_file(tmp_path, "other.pkl", pickle.dumps({"weights": [1, 2], "epoch": 3}, protocol=4))
    message = load_error(path, UnsupportedNetworkError)
    assert "no 'G_ema' in this pickle; it holds: 'weights', 'epoch'" in message


def test_pickle_of_a_plain_value(tmp_path):
    message = load_error(write_file(tmp_path, "list.pkl", pickle.dumps([1, 2, 3], protocol=4)), UnsupportedNetworkError)
    assert "holds a list, not a dict of networks" in message


def test_key_holding_a_discriminator(tmp_path, good_pickle):
    message = load_error(write_file(tmp_path, "snap.pkl", good_pickle), UnsupportedNetworkError, key="D")
    assert "'D' holds a Discriminator, not a generator" in message


def test_generator_key_holding_another_class(tmp_path):
    data = dump_official({"G_ema": Persistent("AugmentPipe", module_state(torch.nn.Module()))})
    assert "'G_ema' holds a AugmentPipe, not a generator" in load_error(write_file(tmp_path, "a.pkl", data),
                                                                    UnsupportedNetworkError)


def test_unsupported_persistence_version(tmp_path):
    tree = official_tree(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))
    tree.meta["state"]["_modules"]["mapping"].meta["version"] = 5
    message = load_error(write_file(tmp_path, "v5.pkl", dump_official(official_top(tree))), UnsupportedNetworkError)
    assert "mapping: persistence version 5 is not supported (expected 6)" in message


def test_non_class_persistent_object(tmp_path):
    data = dump_official({"G_ema": Persistent("Generator", {}, type_="module")})
    assert "expected 'class'" in load_error(write_file(tmp_path, "m.pkl", data), UnsupportedNetworkError)


def test_foreign_submodule(tmp_path):
    tree = official_tree(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))
    tree.meta["state"]["_modules"]["mapping"] = {"not": "a module"}
    message = load_error(write_file(tmp_path, "f.pkl", dump_official(official_top(tree))), UnsupportedNetworkError)
    assert "submodule mapping is a dict, not a network layer" in message


def test_dotted_tensor_names_are_refused(tmp_path):
    tree = official_tree(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))
    tree.meta["state"]["_parameters"]["synthesis.b4.const"] = torch.zeros(1)
    message = load_error(write_file(tmp_path, "d.pkl", dump_official(official_top(tree))), UnsupportedNetworkError)
    assert "invalid tensor or module name 'synthesis.b4.const'" in message


def test_tensorflow_tuple_that_is_not_a_snapshot(tmp_path):
    # A TF Network (dnnlib.tflib.network, NEWOBJ + BUILD with an empty state) in a 3-tuple with two Nones.
    # (Real TF-era files are covered in test_loading_tf*.py.)
    data = b"\x80\x04" + _short_str(b"dnnlib.tflib.network") + _short_str(b"Network") + b"\x93)\x81}bNN\x87."
    message = load_error(write_file(tmp_path, "tf.pkl", data), UnsupportedNetworkError)
    assert "a tuple of 3 items, not the (G, D, Gs) of a TensorFlow snapshot" in message


# --- the native format --------------------------------------------------------------------------


def test_safetensors_without_our_metadata(tmp_path):
    path = tmp_path / "foreign.safetensors"
    save_file({"w": torch.ones(2)}, str(path), metadata={"format": "pt"})
    assert "without sg3-explorer network metadata" in load_error(path, UnsupportedNetworkError)


@pytest.mark.parametrize(
    "metadata, problem",
    [
        ({"format": "sg3-explorer", "format_version": "2", "kind": "sg3", "init_kwargs": "{}"}, "format version '2'"),
        ({"format": "sg3-explorer", "format_version": "1", "kind": "sg9", "init_kwargs": "{}"}, "kind 'sg9'"),
        ({"format": "sg3-explorer", "format_version": "1", "kind": "sg2", "init_kwargs": "{oops"}, "not JSON"),
    ],
)
def test_safetensors_with_bad_metadata(tmp_path, metadata, problem):
    path = tmp_path / "bad.safetensors"
    save_file({"w": torch.ones(2)}, str(path), metadata=metadata)
    assert problem in load_error(path, UnsupportedNetworkError)


def test_corrupt_safetensors(tmp_path):
    path = tmp_path / "net.safetensors"
    save_file({"w": torch.ones(64)}, str(path), metadata={"format": "sg3-explorer"})
    data = path.read_bytes()
    path.write_bytes(data[:-40])
    assert "corrupt .safetensors file" in load_error(path)


def test_read_official_pickle_rejects_safetensors(tmp_path):
    path = tmp_path / "net.bin"
    save_file({"w": torch.ones(2)}, str(path))
    with pytest.raises(UnsupportedNetworkError, match="a .safetensors file, not a pickle"):
        read_official_pickle(path)


def test_non_path_source():
    with pytest.raises(NetworkLoadError, match="expected a file path, URL, catalog name or 'demo'"):
        read_network(io.BytesIO(b"x"))


# --- a file must not change our allowed objects or grow tensors after the checks --------------------


def _build_on_global(module: bytes, name: bytes, attribute: bytes) -> bytes:
    """GLOBAL module.name, then BUILD with a slot state {attribute: (1,)}: `setattr` on the global itself."""
    return (b"\x80\x04" + _short_str(module) + _short_str(name) + b"\x93"
            + b"N}" + _short_str(attribute) + b"K\x01\x85s\x86b.")


@pytest.mark.parametrize(
    "module, name",
    [(b"torch._utils", b"_rebuild_tensor_v2"), (b"dnnlib.util", b"EasyDict"), (b"numpy", b"dtype"),
     (b"collections", b"OrderedDict")],
)
def test_build_cannot_modify_allowed_globals(tmp_path, module, name):
    from stylegan3.loading.safe_unpickler import ALLOWED_GLOBALS

    target = ALLOWED_GLOBALS[(module.decode(), name.decode())]
    before = getattr(target, "__defaults__", None)
    path = write_file(tmp_path, "poison.pkl", _build_on_global(module, name, b"__defaults__"))
    message = load_error(path)
    assert "corrupt" in message
    assert getattr(target, "__defaults__", None) == before


class _GrowingTensor:
    """A tensor whose BUILD state asks `Tensor.set_` for far more elements than its storage holds."""

    def __reduce__(self):
        storage = torch.ones(4).storage()
        return (torch._utils._rebuild_tensor_v2, (storage, 0, (4,), (1,), False, collections.OrderedDict()),
                (storage, 0, (10_000_000,), (1,)))


def test_tensor_grown_by_build_is_refused(tmp_path):
    with pytest.warns(UserWarning):  # TypedStorage deprecation, while writing the file
        data = pickle.dumps({"G_ema": _GrowingTensor()}, protocol=4)
    assert len(data) < 5000
    assert "claims more memory than the file holds" in load_error(write_file(tmp_path, "grow.pkl", data))


def test_zero_stride_expansion_is_refused(tmp_path):
    data = pickle.dumps({"t": torch.ones(4)}, protocol=3)
    # size (4,) stride (1,) -> size (10**9,) stride (0,): a view that would grow to 4 GB when copied
    forged = data.replace(b"K\x04\x85", b"J\x00\xca\x9a\x3b\x85", 1).replace(b"K\x01\x85", b"K\x00\x85", 1)
    assert "tensor view of size [1000000000] is larger than its storage of 4" in load_error(
        write_file(tmp_path, "expand.pkl", forged))


def test_shared_submodules_cannot_blow_up_the_tensor_walk(tmp_path):
    """A module reached twice is refused at once: 25 levels of two shared children would be 2**25 visits."""
    tree = official_tree(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))
    child = Persistent("SynthesisLayer", module_state(torch.nn.Module()), SG3_MODULE_SRC)
    for _ in range(25):
        state = module_state(torch.nn.Module())
        state["_modules"]["a"] = child
        state["_modules"]["b"] = child
        child = Persistent("SynthesisLayer", state, SG3_MODULE_SRC)
    tree.meta["state"]["_modules"]["bomb"] = child
    path = write_file(tmp_path, "shared.pkl", dump_official(official_top(tree)))
    with pytest.raises(UnsupportedNetworkError, match="appears more than once") as info:
        read_network(path)
    assert "shared.pkl" in str(info.value) and "\n" not in str(info.value)


def test_shared_lists_in_constructor_arguments_are_bounded(tmp_path):
    """x = [x, x] nested 60 times is a tiny pickle but 2**60 values once expanded: refused, not expanded."""
    tree = official_tree(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))
    bomb: list = []
    for _ in range(60):
        bomb = [bomb, bomb]
    tree.meta["state"]["_init_kwargs"]["mapping_kwargs"] = {"extra": bomb}
    path = write_file(tmp_path, "kwargs.pkl", dump_official(official_top(tree)))
    with pytest.raises(UnsupportedNetworkError, match="non-plain data|nested") as info:
        read_network(path)
    assert "kwargs.pkl" in str(info.value)


def test_absurd_sizes_are_refused_before_allocating(tmp_path):
    """A file with no weights but z_dim=w_dim=20000 would need gigabytes before the name check: refused first."""
    tree = official_tree(tiny_net("SG2", res=16, c_dim=2, perturb=0.01))
    tree.meta["state"]["_init_kwargs"].update(z_dim=20000, w_dim=20000)
    path = write_file(tmp_path, "huge.pkl", dump_official(official_top(tree)))
    with pytest.raises(UnsupportedNetworkError, match="w_dim=20000 is outside|z_dim=20000 is outside") as info:
        load_network(path, device="cpu")
    assert "huge.pkl" in str(info.value) and "\n" not in str(info.value)
