"""Banks whose vectors live on disk: an RFlat bank keeps them in vectors.npy and re-ranks from it; builds join the
encoded chunks into one file and never hold every vector in memory."""

import json

import faiss
import numpy as np
import pytest

from unembed import BankError, InputError
from unembed.index import Bank, VectorFile, build_bank, collect_captions, load_bank, make_index, set_search_params, write_vector_file
from helpers import InterruptingSpace

SPEC, PARAMS = "IVF8,SQ4,RFlat", "nprobe=2,k_factor_rf=8"


@pytest.fixture(scope="module")
def captions(image_captions):
    return collect_captions(texts=image_captions)


@pytest.fixture(scope="module")
def caption_vectors(minilm, captions):
    return minilm.embed_text(captions)


@pytest.fixture(scope="module")
def queries(minilm):
    return minilm.embed_text(["a dog running on grass", "an old red car", "people at a market", "a bowl of soup", "snow on a roof"])


def test_reranking_from_vectors_npy_matches_faiss_own_refine_stage(minilm, captions, caption_vectors, queries, tmp_path):
    faiss_refine = make_index(caption_vectors, SPEC)  # FAISS's IndexRefineFlat, vectors inside the index
    set_search_params(faiss_refine, PARAMS)
    expected_scores, expected_ids = faiss_refine.search(queries, 10)

    bank = Bank.from_vectors(captions, caption_vectors, minilm, index=SPEC, search_params=PARAMS)
    result = bank.search(queries, 10)
    assert result.ids.tolist() == expected_ids.tolist()
    np.testing.assert_allclose(result.scores, expected_scores, atol=1e-5)

    bank.save(tmp_path / "bank")
    loaded = load_bank(tmp_path / "bank", minilm)
    assert isinstance(loaded.vectors, VectorFile) and loaded.vectors.shape == caption_vectors.shape
    assert "vectors.npy" in json.loads((tmp_path / "bank" / "manifest.json").read_text())["files"]
    # The saved index is the one before RFlat: 4-bit codes, not the full vectors a second time.
    assert (tmp_path / "bank" / "index.faiss").stat().st_size < caption_vectors.nbytes / 4
    assert loaded.search(queries, 10).ids.tolist() == expected_ids.tolist()
    loaded.set_search_params("nprobe=2")  # k_factor_rf back to 1: the base index's own order, re-scored
    assert loaded.k_factor_rf == 1 and loaded.search(queries, 10).ids.tolist() != expected_ids.tolist()


def test_a_bank_from_a_vector_file_equals_one_from_the_array(minilm, captions, caption_vectors, queries, tmp_path):
    blocks = (caption_vectors[start : start + 64] * 3.0 for start in range(0, len(caption_vectors), 64))  # scaled: normalised
    vectors = write_vector_file(tmp_path / "v.npy", blocks, len(caption_vectors), minilm.dim)
    np.testing.assert_allclose(vectors[10:20], caption_vectors[10:20], atol=1e-6)
    np.testing.assert_allclose(vectors[np.array([7, 3, 7])], caption_vectors[[7, 3, 7]], atol=1e-6)
    from_file = Bank.from_vectors(captions, vectors, minilm, index=SPEC, search_params=PARAMS)
    from_array = Bank.from_vectors(captions, caption_vectors, minilm, index=SPEC, search_params=PARAMS)
    assert from_file.search(queries, 20).ids.tolist() == from_array.search(queries, 20).ids.tolist()
    from_file.save(tmp_path / "linked", link_vectors=True)
    assert (tmp_path / "linked" / "vectors.npy").stat().st_ino == (tmp_path / "v.npy").stat().st_ino
    from_array.save(tmp_path / "copied")
    np.testing.assert_allclose(VectorFile(tmp_path / "copied" / "vectors.npy")[:], vectors[:], atol=1e-6)


def test_a_build_stopped_after_encoding_resumes_without_encoding_again(tmp_path, minilm, image_captions):
    captions = tmp_path / "captions.txt"
    captions.write_text("\n".join(image_captions[:200]) + "\n", encoding="utf-8")
    out = tmp_path / "bank"
    with pytest.raises(InputError, match="IVF4096"):  # more lists than captions: fails after every chunk is encoded
        build_bank([captions], minilm, out, index="IVF4096,Flat", chunk_size=64)
    partial = tmp_path / ".bank.partial"
    assert len(list(partial.glob("chunk-*.npy"))) == 4 and len(list(partial.glob("vectors-*.npy"))) == 1
    resumed = InterruptingSpace(minilm, budget=0)  # any encoding at all would raise KeyboardInterrupt
    bank = build_bank([captions], resumed, out, index="IVF4,Flat,RFlat", search_params="nprobe=4,k_factor_rf=4", chunk_size=64)
    assert resumed.calls == 0 and not partial.exists()
    probes = bank.texts[::40]
    assert [hits[0] for hits in load_bank(out).search(minilm.embed_text(probes), 1).texts] == probes


def test_vectors_npy_missing_damaged_or_from_another_bank_is_named(minilm, captions, caption_vectors, tmp_path):
    for name in ("a", "b"):
        texts = captions if name == "a" else captions[::-1]
        vectors = caption_vectors if name == "a" else caption_vectors[::-1]
        Bank.from_vectors(texts, vectors, minilm, index="Flat,RFlat").save(tmp_path / name)
    (tmp_path / "a" / "vectors.npy").unlink()
    (tmp_path / "a" / "vectors.npy").write_bytes((tmp_path / "b" / "vectors.npy").read_bytes())  # same shape, other bank
    with pytest.raises(BankError, match="vectors.npy does not match its manifest checksum"):
        load_bank(tmp_path / "a")
    (tmp_path / "a" / "vectors.npy").unlink()
    with pytest.raises(BankError, match="has no vectors.npy"):
        load_bank(tmp_path / "a")


def test_vector_files_that_are_not_bank_vectors_are_refused(tmp_path, minilm, caption_vectors):
    np.save(tmp_path / "f64.npy", caption_vectors.astype(np.float64))
    with pytest.raises(InputError, match="float32"):
        VectorFile(tmp_path / "f64.npy")
    np.save(tmp_path / "short.npy", caption_vectors)
    (tmp_path / "short.npy").write_bytes((tmp_path / "short.npy").read_bytes()[:-100])
    with pytest.raises(InputError, match="cut short"):
        VectorFile(tmp_path / "short.npy")
    (tmp_path / "text.npy").write_text("a dog\n")
    with pytest.raises(InputError, match="not a numpy"):
        VectorFile(tmp_path / "text.npy")
    np.save(tmp_path / "raw.npy", caption_vectors * 2)  # never normalised
    with pytest.raises(InputError, match="row 0 has norm 2"):
        Bank.from_vectors(["x"] * len(caption_vectors), VectorFile(tmp_path / "raw.npy"), minilm)
    bad = caption_vectors[:4].copy()
    bad[2] = np.nan
    with pytest.raises(InputError, match=r"row\(s\) \[2\] contain NaN"):
        write_vector_file(tmp_path / "nan.npy", [bad], 4, minilm.dim)
    with pytest.raises(InputError, match="not the 5 announced"):
        write_vector_file(tmp_path / "few.npy", [caption_vectors[:4]], 5, minilm.dim)
