"""Arrays inside analysis results: exact round trip through one payload frame, limits, and descriptors that
lie about their bytes are refused before anything is read (a hostile server cannot make the client read out
of bounds or allocate what the frame does not hold)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stylegan3.service.arrays import ArrayError, pack, unpack


def test_round_trip_is_exact_and_plain():
    rng = np.random.default_rng(0)
    result = {"output": {"power": rng.random((5, 5)), "freqs": np.arange(5, dtype=np.float32), "n": np.int64(3),
                         "marks": {"cutoff": np.float64(2.5)}},
              "frames": [rng.integers(0, 255, (2, 3, 3), dtype=np.uint8) for _ in range(3)], "label": "x"}
    plain, payload = pack(result)
    header = json.loads(json.dumps(plain, allow_nan=False))  # what travels is plain JSON
    back = unpack(header, payload)
    assert len(payload) == 25 * 8 + 5 * 4 + 3 * 18
    assert np.array_equal(back["output"]["power"], result["output"]["power"])
    assert back["output"]["power"].dtype == np.float64 and back["output"]["freqs"].dtype == np.float32
    assert back["output"]["n"] == 3 and type(back["output"]["n"]) is int
    assert back["output"]["marks"] == {"cutoff": 2.5} and back["label"] == "x"
    assert all(np.array_equal(a, b) for a, b in zip(back["frames"], result["frames"], strict=True))
    back["frames"][0][0, 0, 0] = 7  # copies, writable: not views of a zmq frame that goes away
    assert pack({"a": 1}) == ({"a": 1}, None)


def test_limits_and_unsendable_values():
    with pytest.raises(ArrayError, match="result too large"):
        pack({"a": np.zeros(100), "b": np.zeros(100)}, limit=1000)
    with pytest.raises(ArrayError, match="dtype complex128"):
        pack({"a": np.zeros(3, dtype=np.complex128)})
    with pytest.raises(ArrayError, match="non-finite"):
        pack({"a": float("nan")})
    assert unpack(*pack({"h": np.zeros(2, dtype=np.float16)}))["h"].dtype == np.float64  # widened, not refused


@pytest.mark.parametrize("desc, message", [
    ({"$array": [0, 80], "dtype": "float64", "shape": [100]}, "does not match"),
    ({"$array": [8, 80], "dtype": "float64", "shape": [10]}, "does not match"),
    ({"$array": [0, 8], "dtype": "object", "shape": [1]}, "bad array descriptor"),
    ({"$array": [-8, 8], "dtype": "float64", "shape": [1]}, "bad array span"),
    ({"$array": [0, 8], "dtype": "float64", "shape": [-1, -8]}, "bad array shape"),
    ({"$array": [0, 8], "dtype": "float64", "shape": [1], "extra": 1}, "bad array descriptor"),
])
def test_lying_descriptors_are_refused(desc, message):
    with pytest.raises(ArrayError, match=message):
        unpack({"x": [desc]}, np.zeros(10).tobytes())
