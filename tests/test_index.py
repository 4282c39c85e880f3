import json
import os
from pathlib import Path

import numpy as np
import pytest

from unembed import BankError, InputError, SpaceMismatchError
from unembed.index import Bank, build_bank, collect_captions, load_bank, mils_file, resolve_bank, source_captions
from unembed.index.sources import _download
from helpers import InterruptingSpace
from unembed.spaces.sentence_transformers import SentenceTransformerSpace


@pytest.fixture(scope="module")
def caption_file(tmp_path_factory, image_captions):
    path = tmp_path_factory.mktemp("captions") / "captions.txt"
    path.write_text("\n".join(image_captions[:300]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def saved_bank(tmp_path_factory, caption_file, minilm):
    out = tmp_path_factory.mktemp("banks") / "bank"
    build_bank([caption_file], minilm, out)
    return out


def test_each_caption_queried_by_its_own_embedding_comes_back_first(saved_bank, minilm):
    bank = load_bank(saved_bank, minilm)
    probes = bank.texts[::37]
    result = bank.search(minilm.embed_text(probes), k=5)
    assert [texts[0] for texts in result.texts] == probes
    np.testing.assert_allclose(result.scores[:, 0], 1.0, atol=1e-4)
    assert np.all(np.diff(result.scores, axis=1) <= 1e-6), "scores are sorted best first"


def test_saved_bank_has_a_manifest_that_describes_it(saved_bank, caption_file):
    manifest = json.loads((saved_bank / "manifest.json").read_text())
    captions = collect_captions([caption_file])
    assert manifest["space"] == "minilm" and manifest["dim"] == 384 and manifest["index"] == "Flat"
    assert manifest["count"] == len(captions)
    assert (saved_bank / "texts.txt").read_text(encoding="utf-8").splitlines() == captions
    assert {"texts_sha256", "unembed_version", "created"} <= set(manifest)


def test_captions_are_normalised_deduplicated_and_blank_lines_dropped(tmp_path):
    first = tmp_path / "a.txt"
    first.write_text("a  red\tcircle \n\n   \nrain on a roof\n", encoding="utf-8")
    captions = collect_captions([first], texts=["a red circle", "  an engine  ", ""])
    assert captions == ["a red circle", "rain on a roof", "an engine"]


def test_approximate_indexes_find_the_exact_neighbour_and_honour_search_params(minilm, image_captions):
    for spec, params in [("HNSW32", "efSearch=64"), ("IVF16,Flat", "nprobe=16"), ("IVF16,SQ8,RFlat", "nprobe=16,k_factor_rf=4")]:
        bank = Bank.from_texts(image_captions, minilm, index=spec, search_params=params)
        probes = bank.texts[5:400:50]
        result = bank.search(minilm.embed_text(probes), k=3)
        assert [t[0] for t in result.texts] == probes, spec


def test_exclude_drops_a_held_out_caption_and_still_returns_k(minilm, image_captions):
    bank = Bank.from_texts(image_captions[:100], minilm)
    target = bank.texts[10]
    result = bank.search(minilm.embed_text([target])[0], k=5, exclude=[target])
    assert target not in result.texts[0] and len(result.texts[0]) == 5
    assert (result.ids[0] >= 0).all()


def test_k_larger_than_bank_is_capped_and_excluded_hits_pad_with_minus_one(minilm):
    bank = Bank.from_texts(["a dog", "a cat"], minilm)
    result = bank.search(minilm.embed_text(["a dog"]), k=5)
    assert result.ids.shape == (1, 2) and sorted(result.ids[0].tolist()) == [0, 1] and len(result.texts[0]) == 2
    result = bank.search(minilm.embed_text(["a dog"]), k=5, exclude=["a dog"])
    assert result.ids[0].tolist() == [1, -1] and np.isneginf(result.scores[0, 1]) and result.texts[0] == ["a cat"]


def test_interrupted_build_resumes_from_checkpointed_chunks(tmp_path, caption_file, minilm):
    out = tmp_path / "bank"
    interrupted = InterruptingSpace(minilm, budget=5)
    with pytest.raises(KeyboardInterrupt):
        build_bank([caption_file], interrupted, out, batch_size=16, chunk_size=32)
    assert not out.exists(), "nothing half-written at the destination"
    assert len(list((tmp_path / ".bank.partial").glob("chunk-*.npy"))) == 2

    resumed = InterruptingSpace(minilm, budget=10**6)
    bank = build_bank([caption_file], resumed, out, batch_size=16, chunk_size=32)
    total_batches = sum(-(-min(32, len(bank) - s) // 16) for s in range(0, len(bank), 32))
    assert resumed.calls == total_batches - 4, "the two finished chunks (4 batches) were not encoded again"
    assert not (tmp_path / ".bank.partial").exists()
    fresh = Bank.from_texts(bank.texts, minilm)
    query = minilm.embed_text(["an animal in the water"])
    assert load_bank(out).search(query, 10).texts == fresh.search(query, 10).texts


def test_rebuilding_the_same_bank_is_a_no_op_and_another_is_refused(saved_bank, caption_file, minilm, tmp_path):
    before = (saved_bank / "manifest.json").read_text()
    build_bank([caption_file], minilm, saved_bank)
    assert (saved_bank / "manifest.json").read_text() == before
    with pytest.raises(BankError, match="--overwrite"):
        build_bank(texts=["something else"], space=minilm, out=saved_bank)


def test_cached_bank_of_a_caption_file_follows_the_file(tmp_path, minilm, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    captions = tmp_path / "captions.txt"
    captions.write_text("a cat\na dog\n")
    first = resolve_bank(str(captions), minilm)
    stamp = (next((tmp_path / "cache").rglob("manifest.json"))).stat().st_mtime_ns
    assert resolve_bank(str(captions), minilm).texts == first.texts == ["a cat", "a dog"]
    assert next((tmp_path / "cache").rglob("manifest.json")).stat().st_mtime_ns == stamp  # reused, not rebuilt
    captions.write_text("a horse\n")  # e.g. a newer version of a named source
    assert resolve_bank(str(captions), minilm).texts == ["a horse"]


def test_overwrite_replaces_a_bank_atomically(tmp_path, minilm):
    out = tmp_path / "bank"
    build_bank(texts=["one", "two"], space=minilm, out=out)
    build_bank(texts=["three"], space=minilm, out=out, overwrite=True)
    assert load_bank(out).texts == ["three"]
    # The lock file stays (deleting it would race a waiting build); nothing else does.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".bank.lock", "bank"], "no temporary or retired folders left"


@pytest.mark.parametrize("query, problem", [
    (np.ones(383, dtype=np.float32), "dimension 383"),
    (np.full(384, np.nan, dtype=np.float32), "NaN or inf"),
    (np.r_[np.ones(383), np.inf].astype(np.float32), "NaN or inf"),
    (np.zeros(384, dtype=np.float32), "all zero"),
    (np.ones((2, 3, 384), dtype=np.float32), "shape"),
])
def test_bad_query_vectors_are_named(saved_bank, query, problem):
    with pytest.raises(InputError, match=problem):
        load_bank(saved_bank).search(query, 3)


def test_bank_built_for_another_space_is_refused(saved_bank, minilm):
    with pytest.raises(SpaceMismatchError, match="built with space 'minilm'"):
        load_bank(saved_bank, "imagebind")
    other = SentenceTransformerSpace.__new__(SentenceTransformerSpace)
    other.spec, other.dim = "minilm", 512
    with pytest.raises(SpaceMismatchError, match="dim 512"):
        load_bank(saved_bank, other)


def copy_bank(source, target):
    target.mkdir()
    for name in ("manifest.json", "texts.txt", "index.faiss"):
        (target / name).write_bytes((source / name).read_bytes())
    return target


@pytest.mark.parametrize("damage, problem", [
    (lambda d: (d / "manifest.json").unlink(), "no manifest.json"),
    (lambda d: (d / "manifest.json").write_text("{not json"), "corrupt"),
    (lambda d: (d / "manifest.json").write_text('{"format": 1}'), "lacks"),
    (lambda d: (d / "index.faiss").unlink(), "no index.faiss"),
    (lambda d: (d / "index.faiss").write_bytes(b"garbage" * 100), "index.faiss does not match its manifest checksum"),
    (lambda d: (d / "manifest.json").write_text('{"format": "2", "space": "minilm", "dim": 384, "count": 3, '
                                                 '"index": "Flat", "texts_sha256": ""}'), "format='2' of the wrong type"),
    (lambda d: (d / "manifest.json").write_text('{"format": 9, "space": "minilm", "dim": 384, "count": 3, '
                                                 '"index": "Flat", "texts_sha256": ""}'), "newer unembed"),
    (lambda d: (d / "texts.txt").write_text("edited\n"), "checksum"),
    (lambda d: (d / "texts.txt").unlink(), "no texts.txt"),
])
def test_missing_or_corrupt_bank_files_are_named(saved_bank, tmp_path, damage, problem):
    bank_dir = copy_bank(saved_bank, tmp_path / "bank")
    damage(bank_dir)
    with pytest.raises(BankError, match=problem):
        load_bank(bank_dir)


def test_format_1_banks_load_when_asked_and_are_checked_for_what_they_record(saved_bank, tmp_path, minilm):
    """Banks of unembed before format 2 checksummed only texts.txt: they load with an opt-in, with that checked."""
    bank_dir = copy_bank(saved_bank, tmp_path / "old")
    manifest = json.loads((bank_dir / "manifest.json").read_text())
    manifest["format"] = 1
    del manifest["files"]
    (bank_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BankError, match="format 1"):
        load_bank(bank_dir, minilm)
    assert load_bank(bank_dir, minilm, allow_unverified=True).texts == load_bank(saved_bank).texts
    (bank_dir / "index.faiss").write_bytes(b"garbage" * 100)
    with pytest.raises(BankError, match="not a readable FAISS index"):
        load_bank(bank_dir, allow_unverified=True)
    (bank_dir / "texts.txt").write_text("edited\n")
    with pytest.raises(BankError, match="checksum"):
        load_bank(bank_dir, allow_unverified=True)


def test_missing_bank_directory_says_how_to_build_one(tmp_path):
    with pytest.raises(BankError, match="unembed bank build"):
        load_bank(tmp_path / "nowhere")


def test_empty_and_non_utf8_files_are_refused(tmp_path, minilm):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(InputError, match="holds no captions"):
        build_bank([empty], minilm, tmp_path / "out")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8.*line 1.*iconv"):
        build_bank([latin1], minilm, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.partial").exists()


def test_bad_index_spec_and_search_params_are_named(minilm):
    with pytest.raises(InputError, match="index-factory"):
        Bank.from_texts(["a", "b"], minilm, index="NoSuchIndex")
    with pytest.raises(InputError, match="efSearch"):
        Bank.from_texts(["a", "b"], minilm, index="Flat", search_params="nprobe=4")


def test_named_mils_sources_resolve_to_the_shared_data(image_captions):
    path = mils_file("image_descriptions_per_class.txt")
    assert path.parent == Path(os.environ["UNEMBED_MILS_DIR"])
    assert collect_captions(["mils-image"])[:3] == [" ".join(c.split()) for c in image_captions[:3]]
    with pytest.raises(InputError, match="mils-audio, mils-image, minibind-audio, minibind-image"):
        source_captions("mils-video")


def test_minibind_world_sources_are_one_canonical_caption_per_scene():
    from unembed.minibind import world

    audio = collect_captions(["minibind-audio"])
    assert len(audio) == len(world.all_scenes("audio")) == len(set(audio))
    assert audio[0] == world.caption(world.all_scenes("audio")[0])
    assert len(collect_captions(["minibind-image", "minibind-audio"])) == len(audio) + len(world.all_scenes("image"))


def test_failed_download_is_a_clear_error_and_leaves_nothing(tmp_path):
    target = tmp_path / "cache" / "image_descriptions_per_class.txt"
    with pytest.raises(InputError, match="UNEMBED_MILS_DIR"):
        _download("http://127.0.0.1:9/image_descriptions_per_class.txt", target)
    assert list(target.parent.iterdir()) == []


def test_gpu_search_without_a_gpu_says_what_to_install(saved_bank):
    import faiss

    if faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0:
        pytest.skip("a GPU is visible: the CPU-only error cannot happen here")
    with pytest.raises(BankError, match="unembed\\[gpu\\]"):
        load_bank(saved_bank).to_gpu()
