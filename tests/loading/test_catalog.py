"""The catalog of NVIDIA's published networks: names, URL scheme, lookup and resolution."""

from __future__ import annotations

import re

from stylegan3.loading.catalog import CATALOG, SG2_BASE, SG3_BASE, lookup, resolve

NGC = "https://api.ngc.nvidia.com/v2/models/nvidia/research/"


def test_catalog_lists_every_published_network():
    sg3 = {n for n in CATALOG if n.startswith("stylegan3-")}
    sg2 = {n for n in CATALOG if n.startswith("stylegan2-")}
    assert len(sg3) == 12 and len(sg2) == 6
    for config in "tr":
        for net in ("ffhq-1024x1024", "ffhqu-256x256", "ffhqu-1024x1024", "metfaces-1024x1024",
                    "metfacesu-1024x1024", "afhqv2-512x512"):
            assert f"stylegan3-{config}-{net}" in sg3
    assert sg2 == {"stylegan2-ffhq-1024x1024", "stylegan2-ffhqu-1024x1024", "stylegan2-ffhqu-256x256",
                   "stylegan2-metfaces-1024x1024", "stylegan2-metfacesu-1024x1024", "stylegan2-afhqv2-512x512"}


def test_tf_era_entries_are_the_official_readme_addresses():
    """StyleGAN (v1): NVlabs/stylegan's README networks table; ProGAN: the one file tkarras' README links."""
    tf_era = {n: e for n, e in CATALOG.items() if e.kind in ("SG1", "ProGAN")}
    assert sorted(tf_era) == ["karras2018iclr-celebahq-1024x1024", "stylegan-bedrooms-256x256",
                              "stylegan-cars-512x384", "stylegan-cats-256x256", "stylegan-celebahq-1024x1024",
                              "stylegan-ffhq-1024x1024"]
    assert tf_era["stylegan-ffhq-1024x1024"].url == "https://drive.google.com/uc?id=1MEGjdvVpUsu1jB4zrXZN7Y4kBBOzizDQ"
    assert tf_era["karras2018iclr-celebahq-1024x1024"].url == \
        "https://drive.google.com/open?id=188K19ucknC6wg1R6jbuPEhTq9zoufOx4"
    assert tf_era["stylegan-cars-512x384"].resolution == 512
    for entry in tf_era.values():
        assert entry.url.startswith("https://drive.google.com/") and "browser" in entry.note


def test_entries_are_consistent_with_their_names():
    for name, entry in CATALOG.items():
        if entry.kind in ("SG1", "ProGAN"):
            continue
        assert entry.name == name
        match = re.fullmatch(r"stylegan([23])-(?:([tr])-)?([a-z0-9]+)-(\d+)x(\d+)", name)
        assert match, name
        generation, config, dataset, width, height = match.groups()
        assert entry.dataset == dataset and entry.resolution == int(width) == int(height)
        if generation == "3":
            assert entry.kind == f"SG3-{config.upper()}"
            assert entry.url == f"{NGC}stylegan3/versions/1/files/{name}.pkl" == f"{SG3_BASE}{name}.pkl"
        else:
            assert entry.kind == "SG2"
            assert entry.url == f"{NGC}stylegan2/versions/1/files/{name}.pkl" == f"{SG2_BASE}{name}.pkl"


def test_lookup_and_resolve():
    entry = lookup("stylegan3-r-afhqv2-512x512")
    assert entry is not None and entry.kind == "SG3-R" and entry.resolution == 512
    assert lookup("StyleGAN3-R-AFHQv2-512x512.pkl") == entry
    assert lookup("stylegan3-x-ffhq-1024x1024") is None
    assert resolve("stylegan2-ffhq-1024x1024.pkl") == f"{SG2_BASE}stylegan2-ffhq-1024x1024.pkl"
    assert resolve("https://example.org/net.pkl") == "https://example.org/net.pkl"
    assert resolve("HTTP://example.org/net.pkl") == "HTTP://example.org/net.pkl"
    assert resolve("nets/my-snapshot.pkl") is None
