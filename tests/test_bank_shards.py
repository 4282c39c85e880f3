"""Sharded banks: shard folders filled from one trained index answer as the one-shard bank does; a shard missing,
swapped or of another space is named."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from unembed import BankError, SpaceMismatchError
from unembed.cli import main
from unembed.index import build_bank, collect_captions, load_bank

SPEC, PARAMS = "IVF32,SQ8,RFlat", "nprobe=4,k_factor_rf=4"


@pytest.fixture(scope="module")
def captions():
    """2,000 MILS image captions for the banks, and 200 others as queries."""
    lines = (Path(os.environ["UNEMBED_MILS_DIR"]) / "image_descriptions_per_class.txt").read_text(encoding="utf-8").splitlines()
    return collect_captions(texts=lines[:3000])[:2200]


@pytest.fixture(scope="module")
def banks(tmp_path_factory, captions, minilm):
    root = tmp_path_factory.mktemp("shards")
    built = {}
    for spec, params in [(SPEC, PARAMS), ("Flat", "")]:
        for shards in (1, 4):
            name = f"{spec.replace(',', '-')}-{shards}"
            built[spec, shards] = build_bank(
                texts=captions[:2000], space=minilm, out=root / name, index=spec, search_params=params, shards=shards, chunk_size=512
            )
    return built


def test_four_shards_return_the_same_top_50_as_one_bank(banks, captions, minilm):
    queries = minilm.embed_text(captions[2000:2200])
    for spec in (SPEC, "Flat"):
        one, four = banks[spec, 1], banks[spec, 4]
        assert len(four.shards) == 4 and sum(len(shard) for shard in four.shards) == len(one) == 2000
        assert four.texts == one.texts
        expected, got = one.search(queries, 50), four.search(queries, 50)
        assert got.ids.tolist() == expected.ids.tolist(), spec
        np.testing.assert_allclose(got.scores, expected.scores, atol=1e-5)
    # The search settings reach every shard: one list probed of 32 finds less than four.
    four = banks[SPEC, 4]
    four.set_search_params("nprobe=1,k_factor_rf=4")
    assert four.search(queries, 50).ids.tolist() != banks[SPEC, 1].search(queries, 50).ids.tolist()
    four.set_search_params(PARAMS)


def test_the_manifest_lists_each_shard_with_its_checksum(banks):
    path = banks[SPEC, 4].path
    manifest = json.loads((path / "manifest.json").read_text())
    assert [entry["path"] for entry in manifest["shards"]] == ["shard-000", "shard-001", "shard-002", "shard-003"]
    assert [entry["count"] for entry in manifest["shards"]] == [500, 500, 500, 500]
    shard = json.loads((path / "shard-002" / "manifest.json").read_text())
    assert shard["index"] == SPEC and set(shard["files"]) == {"texts.txt", "index.faiss", "vectors.npy"}
    assert load_bank(path / "shard-002").search(load_bank(path / "shard-002").vectors[np.arange(3)], 1).ids[:, 0].tolist() == [0, 1, 2]


def test_a_shard_missing_swapped_or_of_another_space_is_named(banks, tmp_path, minilm):
    bank = tmp_path / "bank"
    shutil.copytree(banks[SPEC, 4].path, bank)
    shutil.rmtree(bank / "shard-001")
    with pytest.raises(BankError, match="shard shard-001 is missing"):
        load_bank(bank)
    shutil.copytree(banks[SPEC, 4].path / "shard-002", bank / "shard-001")  # a shard, but not this one
    with pytest.raises(BankError, match="shard-001 is not the shard this bank was built with"):
        load_bank(bank)
    shutil.rmtree(bank / "shard-001")
    shutil.copytree(banks[SPEC, 4].path / "shard-001", bank / "shard-001")
    assert load_bank(bank).search(minilm.embed_text(["a dog"]), 5).ids.tolist() == banks[SPEC, 4].search(minilm.embed_text(["a dog"]), 5).ids.tolist()
    manifest = json.loads((bank / "shard-003" / "manifest.json").read_text())
    (bank / "shard-003" / "manifest.json").write_text(json.dumps(dict(manifest, space="minibind", dim=256)))
    with pytest.raises(SpaceMismatchError, match="shard of space 'minibind'.*from another bank"):
        load_bank(bank)
    manifest = json.loads((bank / "manifest.json").read_text())
    (bank / "manifest.json").write_text(json.dumps(dict(manifest, shards=[dict(manifest["shards"][0], path="../elsewhere")] + manifest["shards"][1:])))
    with pytest.raises(BankError, match="damaged list of shards"):
        load_bank(bank)


def test_bank_build_shards_from_the_command_line(tmp_path, captions, capsys):
    source = tmp_path / "captions.txt"
    source.write_text("\n".join(captions[:300]) + "\n", encoding="utf-8")
    assert main(["bank", "build", "--from", str(source), "--out", str(tmp_path / "b"), "--shards", "3"]) == 0
    assert "3 shards" in capsys.readouterr().out
    assert main(["bank", "search", str(tmp_path / "b"), "--text", captions[7], "-k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["results"][0]["text"] == captions[7]
    assert main(["bank", "build", "--from", str(source), "--out", str(tmp_path / "c"), "--shards", "301"]) == 2
    assert "301 shards for 300 captions" in capsys.readouterr().err


def test_an_unreachable_ray_address_stops_the_build_at_once(tmp_path, captions, capsys):
    pytest.importorskip("ray")
    source = tmp_path / "captions.txt"
    source.write_text("\n".join(captions[:50]) + "\n", encoding="utf-8")
    assert main(["bank", "build", "--from", str(source), "--out", str(tmp_path / "b"), "--ray", "127.0.0.1:1"]) == 2
    error = capsys.readouterr().err
    assert "nothing answers at the Ray address 127.0.0.1:1" in error and "Traceback" not in error
    assert not (tmp_path / "b").exists()


@pytest.mark.slow
def test_a_bank_encoded_on_a_ray_cluster_equals_one_encoded_here(tmp_path, captions, minilm):
    """A real 3-node Ray cluster (a head of 0 CPUs, two nodes of 1 CPU): the chunks are encoded on both nodes."""
    pytest.importorskip("ray")
    from unembed.bench.cluster import LocalCluster

    source = tmp_path / "captions.txt"
    source.write_text("\n".join(captions[:600]) + "\n", encoding="utf-8")
    with LocalCluster(workers=2) as cluster:
        env = {**cluster.env, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
        command = [sys.executable, "-m", "unembed", "bank", "build", "--from", str(source), "--out", str(tmp_path / "ray"),
                   "--chunk-size", "100", "--shards", "2", "--ray", cluster.address, "--workers", "2"]
        ended = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert ended.returncode == 0, ended.stderr[-3000:]
    here = build_bank([source], minilm, tmp_path / "here", chunk_size=100, shards=2)
    on_ray = load_bank(tmp_path / "ray")
    assert on_ray.texts == here.texts and len(on_ray.shards) == 2
    queries = minilm.embed_text(captions[1000:1020])
    assert on_ray.search(queries, 10).ids.tolist() == here.search(queries, 10).ids.tolist()


def test_overwrite_never_deletes_what_a_sharded_bank_does_not_hold(banks, tmp_path, captions, minilm):
    """Probe: --overwrite of a sharded bank deleted an extra shard-003 folder, and a file put inside a shard."""
    source = tmp_path / "captions.txt"
    source.write_text("\n".join(captions[:50]) + "\n", encoding="utf-8")
    for extra, named in [("shard-004/index.faiss", "shard-004"), ("shard-001/notes.txt", "shard-001/notes.txt")]:
        bank = tmp_path / extra.split("/")[1]
        shutil.copytree(banks[SPEC, 4].path, bank)
        (bank / extra).parent.mkdir(exist_ok=True)
        (bank / extra).write_text("mine")
        with pytest.raises(BankError, match=f"also holds {named}"):
            build_bank([source], minilm, bank, overwrite=True)
        assert (bank / extra).read_text() == "mine"
    with pytest.raises(BankError, match="is inside the bank"):
        build_bank([source], minilm, banks[SPEC, 4].path / "inner")
    assert not (banks[SPEC, 4].path / ".inner.lock").exists()
    replaced = tmp_path / "replaced"
    shutil.copytree(banks[SPEC, 4].path, replaced)
    assert len(build_bank([source], minilm, replaced, overwrite=True)) == 50  # its own shards go
    assert not list(replaced.glob("shard-*"))
