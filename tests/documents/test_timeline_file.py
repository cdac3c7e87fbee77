"""Timelines written by hand: the schema convention, old files, every problem at once, seed keys and defaults,
the published JSON Schemas and example, and `timeline new` feeding `video --session`."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from stylegan3.cli.main import main
from stylegan3.documents import schemas
from stylegan3.documents.bookmarks import Bookmark
from stylegan3.documents.request import Latent, NetworkRef, RenderRequest, Transform, Truncation, to_dict
from stylegan3.documents.session import Session, save_session
from stylegan3.documents.timeline import Keyframe, Timeline, load_timeline, save_timeline
from stylegan3.errors import SG3Error
from tests.support.nets import SMALL_16PX, save_tiny

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
EXAMPLE = ROOT / "docs" / "examples" / "timeline.json"


def test_a_version_2_file_of_the_old_format_still_opens_and_saves_as_schema_3(tmp_path):
    old = json.loads((DATA / "timeline_version2.json").read_text())
    assert old["format"] == "sg3-explorer timeline" and old["version"] == 2 and "schema" not in old
    tl = load_timeline(DATA / "timeline_version2.json")
    expect = Timeline(
        [
            Keyframe.of_seed(3, psi=0.7, duration=0.5, label="start"),
            Keyframe.of_seed(8, translate=(0.1, 0.0), duration=1.0),
        ],
        interp="linear",
        fps=8.0,
        network="demo",
    )
    assert tl == expect
    new = json.loads(save_timeline(tmp_path / "new.json", tl).read_text())
    assert new["schema"] == 3 and "format" not in new and "version" not in new
    assert load_timeline(tmp_path / "new.json") == expect


def test_seed_keys_and_defaults_expand_to_bookmarks():
    tl = Timeline.from_dict(
        {
            "keyframes": [
                {"seed": 4},
                {"seed": 6, "duration": 0.5, "psi": 0.7, "name": "x"},
                {"bookmark": {"name": "b", "request": {"latent": {"x": 2}}}},
            ]
        },
        network="mine.pkl",
    )
    assert (tl.fps, tl.interp, tl.loop, tl.noise_mode, tl.network) == (30.0, "cubic", False, "const", None)
    assert tl.durations().tolist() == [2.0, 0.5, 2.0]
    assert tl.keyframes[0].bookmark == Bookmark(
        "seed 4", RenderRequest(network=NetworkRef("mine.pkl"), latent=Latent(4.0))
    )
    assert tl.keyframes[1].bookmark == Bookmark(
        "x", RenderRequest(network=NetworkRef("mine.pkl"), latent=Latent(6.0), truncation=Truncation(0.7))
    )
    assert tl.keyframes[2].bookmark == Bookmark("b", RenderRequest(latent=Latent(2.0)))
    named = Timeline.from_dict({"network": "theirs.pkl", "keyframes": [{"seed": 1}]}, network="mine.pkl")
    assert named.keyframes[0].request.network == NetworkRef("theirs.pkl")  # the file's network wins


BAD = {
    "interpolation": "cubic",
    "fps": 0,
    "keyframes": [
        {"seed": 1, "duraton": 2},
        {"seed": "x"},
        {"bookmark": {"name": "a", "request": {"truncation": {"psi": "hi"}}}, "duration": -1},
    ],
}
BAD_LINE = (
    "error: {path}: 6 problems: interpolation: unknown field (did you mean 'interp'?); "
    "keyframes[0].duraton: unknown field (did you mean 'duration'?); "
    "keyframes[1].seed: expected an integer, got 'x' (str); "
    "keyframes[2].bookmark.request.truncation.psi: expected a number, got 'hi' (str); "
    "fps: 0 outside (0, 1000]; keyframes[2].duration: must be a positive number of seconds"
)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(BAD))
    missing = str(tmp_path / "missing.pkl")  # the file is checked before any network is loaded
    assert main(["video", "--session", str(path), "--network", missing, "--out", str(tmp_path / "v.mp4")]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == BAD_LINE.format(path=path) and len(err.splitlines()) == 1
    assert not (tmp_path / "v.mp4").exists()


@pytest.mark.parametrize("data, message", [
    ({"schema": 4, "keyframes": [{"seed": 1}]}, "timeline schema 4 was written by a newer sg3-explorer"),
    ({"schema": 2, "keyframes": [{"seed": 1}]}, "timeline schema 2 does not exist"),
    ({"schema": "3", "keyframes": [{"seed": 1}]}, "'schema' must be an integer"),
    ({"fps": 24}, "1 problem: keyframes: missing"),
    ({"keyframes": []}, "1 problem: the timeline has no keyframes"),
    ({"keyframes": [{"seed": 1, "bookmark": {}}]}, "keyframes[0].seed: unknown field"),
    ({"keyframes": [{"seed": 1}], "noise_mode": "loud"}, "noise_mode: expected one of 'const', 'random', 'none'"),
])  # fmt: skip
def test_bad_versions_and_shapes(data, message):
    with pytest.raises(SG3Error) as info:
        Timeline.from_dict(data)
    assert message in str(info.value)


# -- the published schemas and example ------------------------------------------------------------------------


def test_the_committed_schemas_are_what_the_code_generates():
    for name, make in schemas.SCHEMA_FILES.items():
        committed = (ROOT / "docs" / "schemas" / name).read_text(encoding="utf-8")
        assert committed == schemas.schema_text(make()), (
            f"docs/schemas/{name} is stale: run python -m stylegan3.documents.schemas docs/schemas"
        )


def _validator(name: str) -> jsonschema.protocols.Validator:
    resources = [(s["$id"], Resource.from_contents(s)) for s in (make() for make in schemas.SCHEMA_FILES.values())]
    schema = schemas.SCHEMA_FILES[name]()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, registry=Registry().with_resources(resources))


def test_the_example_validates_and_renders_as_the_docs_say():
    example = json.loads(EXAMPLE.read_text())
    _validator("timeline.schema.json").validate(example)
    tl = load_timeline(EXAMPLE)
    assert [k.label for k in tl.keyframes] == ["seed 0", "calm face", "seed 9, moved right and turned", "seed 12"]
    assert tl.keyframes[2].request.transform == Transform((0.25, 0.0), 0.05)
    assert (tl.total, tl.num_frames()) == (8.5, 204)  # the numbers docs/TIMELINES.md gives
    tl.loop = False
    assert (tl.total, tl.num_frames()) == (6.5, 157)
    docs = (ROOT / "docs" / "TIMELINES.md").read_text()
    assert "204 frames" in docs and "157 frames" in docs


def test_written_files_validate_and_bad_ones_do_not(tmp_path):
    tl = Timeline([Keyframe.of_seed(1), Keyframe.of_seed(2, psi=0.5)], loop=True)
    timeline = _validator("timeline.schema.json")
    timeline.validate(tl.to_dict())
    errors = list(timeline.iter_errors(BAD))
    assert errors  # the schema refuses what the reader refuses
    session = Session(
        request=RenderRequest(latent=Latent(3.0)), bookmarks=(Bookmark("a", RenderRequest()),), timeline=tl
    )
    _validator("session.schema.json").validate(
        json.loads(save_session(tmp_path / "s.sg3session.json", session).read_text())
    )
    request = _validator("request.schema.json")
    request.validate(to_dict(RenderRequest(latent=Latent(2.5))))
    assert not request.is_valid({**to_dict(RenderRequest()), "latent": {"x": 1.0}})  # requests are strict


# -- timeline new -> video --session ---------------------------------------------------------------------------


def test_timeline_new_writes_a_file_video_renders(tmp_path, capsys):
    net = save_tiny(tmp_path / "tiny.safetensors", "sg3", **SMALL_16PX)
    out = tmp_path / "t.json"
    args = [
        "timeline",
        "new",
        "--network",
        str(net),
        "--seeds",
        "0,5,9",
        "--duration",
        "0.25",
        "--fps",
        "4",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: 3 keyframes, 0.5 s at 4 fps (3 frames)")
    tl = load_timeline(out)
    assert [k.request.latent.seed for k in tl.keyframes] == [0, 5, 9] and tl.network == str(net)
    _validator("timeline.schema.json").validate(json.loads(out.read_text()))
    video = tmp_path / "t.mp4"
    assert main(["video", "--session", str(out), "--out", str(video)]) == 0
    assert "wrote " + str(video) + ": 3 frames at 4 fps" in capsys.readouterr().out
    assert video.stat().st_size > 0
    assert main(args) == 1  # never overwrites silently
    assert capsys.readouterr().err.splitlines()[0] == f"error: {out}: already exists (use --force to overwrite)"


@pytest.mark.parametrize("args, line", [
    (["--network", "no-such.pkl"], "error: no-such.pkl: no such network file, nor a catalog name "
                                   "(`sg3-explorer info --catalog` lists them)"),
    (["--duration", "0"], "error: 2 problems: keyframes[0].duration: must be a positive number of seconds; "
                          "keyframes[1].duration: must be a positive number of seconds"),
])  # fmt: skip
def test_timeline_new_refuses_what_would_not_render(tmp_path, capsys, args, line):
    out = tmp_path / "t.json"
    assert main(["timeline", "new", "--seeds", "0,1", *args, "--out", str(out)]) == 1
    assert capsys.readouterr().err.splitlines()[0] == line
    assert not out.exists()
