"""The evaluation room: reference formats, predictions files, the real Java metrics (pycocoevalcap), eval sets,
and `unembed eval` end to end on a MiniBind eval set inverted with the loop."""

import json

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("pycocoevalcap")

from unembed.index import is_held_out
from unembed import invert_many  # noqa: E402
from unembed.cli import main  # noqa: E402
from unembed.errors import InputError, MissingDependencyError  # noqa: E402
from unembed.evaluation import (  # noqa: E402
    caption_scores, evaluate, held_out_targets, load_eval_set, make_eval_set, read_predictions, read_references, spice_missing,
)
from unembed.minibind import world  # noqa: E402

FAST = ["bleu", "rouge", "cider"]  # METEOR's Java start (paraphrase table) takes ~20 s: the slow tests run it


def write_predictions(path, ids, texts, *, bootstrap=None, errors=None):
    """A PREDICTIONS file as `unembed run` writes it."""
    n = len(ids)
    table = pa.table({
        "id": pa.array(ids, pa.string()),
        "text": pa.array(texts, pa.string()),
        "score": pa.array([0.9] * n, pa.float64()),
        "bootstrap_text": pa.array(bootstrap or texts, pa.string()),
        "bootstrap_score": pa.array([0.8] * n, pa.float64()),
        "steps": pa.array([1] * n, pa.int64()),
        "seconds": pa.array([0.1] * n, pa.float64()),
        "llm_calls": pa.array([0] * n, pa.int64()),
        "error": pa.array(errors or [None] * n, pa.string()),
    })
    pq.write_table(table, path)
    return path


def write_jsonl(path, references: dict):
    path.write_text("".join(json.dumps({"id": key, "references": refs}) + "\n" for key, refs in references.items()))
    return path


@pytest.fixture()
def captions(image_captions):
    """20 real MILS captions keyed by id, one reference each."""
    return {f"{index:03d}": [caption] for index, caption in enumerate(image_captions[100:120])}


# ------------------------------------------------------------------------------------------ references
def test_each_reference_format_parses(tmp_path):
    coco = tmp_path / "captions_val.json"
    coco.write_text(json.dumps({"images": [{"id": 7}], "annotations": [
        {"image_id": 7, "id": 1, "caption": "A dog on a\nbeach."},
        {"image_id": 7, "id": 2, "caption": "a brown dog runs"},
        {"image_id": 9, "id": 3, "caption": "two cats"},
    ]}))
    assert read_references(coco) == {"7": ["A dog on a beach.", "a brown dog runs"], "9": ["two cats"]}

    clotho = tmp_path / "clotho_captions_evaluation.csv"
    clotho.write_text("file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
                      "rain.wav,Rain falls on a roof.,Heavy rain,\"rain, then\nthunder\",,rain drops\n")
    assert read_references(clotho) == {"rain.wav": ["Rain falls on a roof.", "Heavy rain", "rain, then thunder", "rain drops"]}

    jsonl = write_jsonl(tmp_path / "refs.jsonl", {"a": ["one", "  two  words "], "b": ["three"]})
    assert read_references(jsonl) == {"a": ["one", "two words"], "b": ["three"]}


def test_bad_references_stop_with_the_fix(tmp_path):
    with pytest.raises(InputError, match="unknown references format '.txt'.*COCO-captions .json"):
        read_references(tmp_path / "refs.txt")
    (tmp_path / "refs.json").write_text(json.dumps([{"image_id": 1, "caption": "x"}]))
    with pytest.raises(InputError, match='no "annotations" list'):
        read_references(tmp_path / "refs.json")
    (tmp_path / "refs.jsonl").write_text('{"id": "a", "references": ["x"]}\n{"id": "b", "refs": ["y"]}\n')
    with pytest.raises(InputError, match="line 2"):
        read_references(tmp_path / "refs.jsonl")
    (tmp_path / "refs.csv").write_text("name,text\na.wav,rain\n")
    with pytest.raises(InputError, match="file_name and caption_1"):
        read_references(tmp_path / "refs.csv")


# ----------------------------------------------------------------------------------------- predictions
def test_predictions_from_a_folder_of_shards(tmp_path):
    folder = tmp_path / "out.parquet"
    folder.mkdir()
    write_predictions(folder / "shard-00000.parquet", ["a", "b"], ["x one", "x two"], bootstrap=["b one", "b two"])
    write_predictions(folder / "shard-00001.parquet", ["c"], [None], errors=["GeneratorError: server down"])
    write_predictions(folder / ".shard-00002.parquet.tmp", ["d"], ["half written"])  # an atomic write in flight
    loop, bank = read_predictions(folder, ["text", "bootstrap_text"])
    assert loop.texts == {"a": "x one", "b": "x two"} and bank.texts == {"a": "b one", "b": "b two"}
    assert loop.failed == {"c": "GeneratorError: server down"} and loop.ids == {"a", "b", "c"}


def test_a_predictions_file_without_id_column_is_refused(tmp_path):
    pq.write_table(pa.table({"name": ["a"], "text": ["x"]}), tmp_path / "p.parquet")
    with pytest.raises(InputError, match=r"no column 'id' \(columns: \['name', 'text'\]\)"):
        read_predictions(tmp_path / "p.parquet")
    (tmp_path / "p.csv").write_text("id,text\na,x\n")
    with pytest.raises(InputError, match="not a Parquet file"):
        read_predictions(tmp_path / "p.csv")


# --------------------------------------------------------------------------------- metrics (real Java)
def test_identical_predictions_score_perfectly_and_shuffled_ones_lower(tmp_path, captions):
    references = write_jsonl(tmp_path / "refs.jsonl", captions)
    ids = list(captions)
    truth = [captions[key][0] for key in ids]
    write_predictions(tmp_path / "same.parquet", ids, truth)
    write_predictions(tmp_path / "shuffled.parquet", ids, truth[1:] + truth[:1])
    report = evaluate([tmp_path / "same.parquet", tmp_path / "shuffled.parquet"], references, metrics=FAST)
    same, shuffled = (run.scores for run in report.runs)
    assert report.metrics == ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr"]
    assert same["BLEU-4"] == pytest.approx(1.0, abs=1e-6) and same["ROUGE-L"] == pytest.approx(1.0)
    assert same["CIDEr"] > 9  # CIDEr-D of a caption against itself is 10
    assert shuffled["BLEU-4"] < 0.3 and shuffled["CIDEr"] < 1 and shuffled["ROUGE-L"] < same["ROUGE-L"]
    assert [run.n for run in report.runs] == [20, 20]
    table = report.markdown().splitlines()
    assert table[0] == "| predictions | column | n | BLEU-1 | BLEU-2 | BLEU-3 | BLEU-4 | ROUGE-L | CIDEr |"
    assert table[2].startswith(f"| {tmp_path / 'same.parquet'} | text | 20 | 100.0 |")


def test_texts_in_memory_score_as_the_same_texts_in_files(tmp_path, captions):
    # The bench's BLEU-4 (caption_scores) is the evaluation's: one implementation, the same numbers.
    references = write_jsonl(tmp_path / "refs.jsonl", captions)
    ids = list(captions)
    truth = [captions[key][0] for key in ids]
    guesses = [text.split(" ", 2)[-1] for text in truth]  # each caption less its first two words
    write_predictions(tmp_path / "guess.parquet", ids, guesses)
    [run] = evaluate(tmp_path / "guess.parquet", references, metrics=["bleu"]).runs
    scores = caption_scores({"guess": guesses, "truth": truth}, [captions[key] for key in ids], ["bleu"])
    assert scores["guess"] == pytest.approx(run.scores)
    assert 0 < scores["guess"]["BLEU-4"] < scores["truth"]["BLEU-4"] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(InputError, match="3 texts for 20 references"):
        caption_scores({"short": truth[:3]}, [captions[key] for key in ids], ["bleu"])


def test_ids_without_references_stop_before_scoring(tmp_path, captions, capsys):
    references = write_jsonl(tmp_path / "refs.jsonl", captions)
    ids = list(captions)[:5] + ["img-1", "img-2"]
    write_predictions(tmp_path / "p.parquet", ids, ["a caption"] * len(ids))
    with pytest.raises(InputError, match=r"2 of 7 ids of .*p.parquet' have no references .*\['img-1', 'img-2'\].*look like \['000'"):
        evaluate(tmp_path / "p.parquet", references, metrics=FAST)
    assert main(["eval", str(tmp_path / "p.parquet"), "--references", str(references), "--metrics", "bleu"]) == 2
    assert "unembed: error: 2 of 7 ids" in capsys.readouterr().err


def test_runs_over_different_ids_are_not_compared(tmp_path, captions):
    references = write_jsonl(tmp_path / "refs.jsonl", captions)
    ids = list(captions)
    write_predictions(tmp_path / "all.parquet", ids, ["x"] * 20)
    write_predictions(tmp_path / "part.parquet", ids[:15], ["x"] * 15)
    with pytest.raises(InputError, match=r"part.parquet' has 15 ids and .*all.parquet' 20: 0 only in the first .*5 only in the second \(e.g. \['015'"):
        evaluate([tmp_path / "part.parquet", tmp_path / "all.parquet"], references, metrics=FAST)


def test_failed_rows_stop_unless_allowed(tmp_path, captions):
    references = write_jsonl(tmp_path / "refs.jsonl", captions)
    ids = list(captions)[:4]
    texts = [captions[key][0] for key in ids]
    write_predictions(tmp_path / "p.parquet", ids, texts[:3] + [None], errors=[None, None, None, "SpaceError: out of memory"])
    with pytest.raises(InputError, match="1 of 4 rows of .* failed .*id '003': SpaceError: out of memory.*--allow-failed"):
        evaluate(tmp_path / "p.parquet", references, metrics=FAST)
    report = evaluate(tmp_path / "p.parquet", references, metrics=["bleu"], allow_failed=True)
    (run,) = report.runs
    assert (run.n, run.failed) == (3, 1) and run.scores["BLEU-4"] == pytest.approx(1.0, abs=1e-6)
    assert any("1 of 4 rows failed and are not scored" in note for note in report.notes)
    assert any("scored 4 of the 20 ids" in note for note in report.notes)


def test_nothing_to_score_and_a_damaged_shard_end_with_a_message(tmp_path, captions, capsys):
    references = write_jsonl(tmp_path / "refs.jsonl", captions)
    ids = list(captions)[:2]
    write_predictions(tmp_path / "empty.parquet", [], [])
    write_predictions(tmp_path / "failed.parquet", ids, [None, None], errors=["GeneratorError: down"] * 2)
    for name, said in (("empty.parquet", r"no answered rows to score \(0 failed, of 0\)"), ("failed.parquet", r"\(2 failed, of 2\)")):
        with pytest.raises(InputError, match=said):  # not a table of zeros that reads as a score
            evaluate(tmp_path / name, references, metrics=["bleu"], allow_failed=True)
    folder = tmp_path / "run.parquet"
    folder.mkdir()
    write_predictions(folder / "shard-00000.parquet", ids, [captions[key][0] for key in ids])
    (folder / "shard-00001.parquet").write_bytes((folder / "shard-00000.parquet").read_bytes()[:200])  # cut short
    assert main(["eval", str(folder), "--references", str(references), "--metrics", "bleu"]) == 2
    error = capsys.readouterr().err
    assert "could not be read" in error and "shard-00001.parquet" in error and "Traceback" not in error


def test_missing_java_names_the_runtime_to_install(tmp_path, captions, monkeypatch):
    references = write_jsonl(tmp_path / "refs.jsonl", captions)
    write_predictions(tmp_path / "p.parquet", list(captions), ["x"] * 20)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java here
    with pytest.raises(MissingDependencyError, match="Java runtime.*apt-get install default-jre-headless"):
        evaluate(tmp_path / "p.parquet", references, metrics=FAST)


@pytest.mark.skipif(spice_missing() is None, reason="SPICE's CoreNLP models are installed here")
def test_spice_without_its_models_is_one_line_not_a_crash(tmp_path, captions):
    references = write_jsonl(tmp_path / "refs.jsonl", captions)
    write_predictions(tmp_path / "p.parquet", list(captions), ["a picture"] * 20)
    report = evaluate(tmp_path / "p.parquet", references, metrics=["bleu", "spice"])
    assert "SPICE" not in report.metrics and "BLEU-4" in report.runs[0].scores
    (note,) = report.notes
    assert note.startswith("SPICE skipped") and "stanford-corenlp-3.6.0-models.jar" in note and "get_stanford_models" in note


def test_cli_compares_columns_and_writes_json(tmp_path, captions, capsys):
    references = write_jsonl(tmp_path / "refs.jsonl", captions)
    ids = list(captions)
    truth = [captions[key][0] for key in ids]
    write_predictions(tmp_path / "p.parquet", ids, truth, bootstrap=truth[2:] + truth[:2])
    out = tmp_path / "report" / "eval.json"
    args = ["eval", str(tmp_path / "p.parquet"), "--references", str(references), "--column", "text,bootstrap_text",
            "--metrics", "bleu,cider", "--json", str(out)]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| predictions | column | n | BLEU-1 | BLEU-2 | BLEU-3 | BLEU-4 | CIDEr |"
    assert " | text | 20 | 100.0 | 100.0 | 100.0 | 100.0 |" in lines[2] and " | bootstrap_text | 20 |" in lines[3]
    report = json.loads(out.read_text())
    loop, bank = report["runs"]
    assert (loop["column"], bank["column"]) == ("text", "bootstrap_text")
    assert loop["scores"]["CIDEr"] > bank["scores"]["CIDEr"] and report["reference_format"] == "jsonl"


@pytest.mark.slow
def test_meteor_and_all_metrics_on_real_captions(tmp_path, captions):
    """The full default set: METEOR (Java, with its paraphrase table) and SPICE when present."""
    references = write_jsonl(tmp_path / "refs.jsonl", captions)
    ids = list(captions)
    truth = [captions[key][0] for key in ids]
    write_predictions(tmp_path / "p.parquet", ids, truth, bootstrap=truth[1:] + truth[:1])
    report = evaluate(tmp_path / "p.parquet", references, columns=["text", "bootstrap_text"])
    loop, shuffled = (run.scores for run in report.runs)
    assert {"BLEU-4", "METEOR", "ROUGE-L", "CIDEr"} <= set(report.metrics)
    assert loop["METEOR"] > 0.95 and shuffled["METEOR"] < 0.3


# ------------------------------------------------------------------------------------------- eval sets
def test_mils_eval_set_holds_out_seeded_captions(tmp_path, minilm):
    eval_set = make_eval_set("mils-image", n=5, seed=3, space=minilm)
    held_out = held_out_targets("mils-image", 5, 3, split=True)  # the same sample `unembed bench invert` inverts
    assert [refs for refs in eval_set.references] == [[caption] for caption in held_out]
    assert all(is_held_out(caption) for caption in held_out)  # from the split no decoder trains on
    assert eval_set.exclude == held_out and (eval_set.space, eval_set.bank, eval_set.modality) == ("minilm", "mils-image", "image")
    paths = eval_set.write(tmp_path / "set")
    table = pq.read_table(paths["targets"])
    assert table.schema.field("id").type == pa.string() and table.schema.field("vector").type == pa.list_(pa.float32())
    loaded = load_eval_set(tmp_path / "set")
    np.testing.assert_allclose(loaded.vectors, minilm.embed_text(held_out), atol=1e-6)
    assert loaded.ids == ["00000", "00001", "00002", "00003", "00004"] and loaded.references == eval_set.references
    assert (tmp_path / "set" / "exclude.txt").read_text().splitlines() == held_out
    assert read_references(paths["references"]) == dict(zip(loaded.ids, loaded.references))
    assert make_eval_set("mils-image", n=5, seed=4, space=minilm).exclude != held_out


def test_minibind_eval_set_references_are_paraphrases_of_held_out_scenes(tmp_path):
    eval_set = make_eval_set("minibind-image", n=10, seed=0)
    assert eval_set.vectors.shape == (10, 384) and np.allclose(np.linalg.norm(eval_set.vectors, axis=1), 1, atol=1e-5)
    for references in eval_set.references:
        scene = world.parse_image_text(references[0])
        assert world.caption(scene) == references[0] and world.is_held_out(scene)
        assert len(set(references)) == 5 and all(world.parse_image_text(text) == scene for text in references)
    # Each target is nearest its own canonical caption among the set's.
    from unembed import load_space

    canonical = load_space("minibind").embed_text([references[0] for references in eval_set.references])
    assert (np.argmax(eval_set.vectors @ canonical.T, axis=1) == np.arange(10)).mean() >= 0.8
    eval_set.write(tmp_path / "set")
    with pytest.raises(InputError, match="already holds another eval set .*--overwrite"):
        make_eval_set("minibind-image", n=3, seed=0).write(tmp_path / "set")


def test_a_damaged_eval_set_is_named_not_a_traceback(tmp_path):
    """`load_eval_set` read its JSON with json.loads: `[[[[...` gave a RecursionError, other damage a bare JSONDecodeError."""
    from unembed.evaluation import EvalSet

    vectors = np.eye(2, 4, dtype=np.float32)
    EvalSet("captions:c.txt", "minilm", "text", "c.txt", ["00000", "00001"], vectors, [["a dog"], ["a cat"]], 0).write(tmp_path / "set")
    assert load_eval_set(tmp_path / "set").references == [["a dog"], ["a cat"]]
    manifest, references = tmp_path / "set" / "eval_set.json", tmp_path / "set" / "references.jsonl"
    good_manifest, good_references = manifest.read_text(), references.read_text()
    deep = "[" * 100_000 + "]" * 100_000
    for damaged, text, expected in [
        (manifest, deep, "eval_set.json is not valid JSON .*nested too deeply"),
        (manifest, "{", "eval_set.json is not valid JSON"),
        (manifest, "[]", "eval_set.json is not an eval set's manifest .*lacks spec"),
        (references, deep + "\n", "references.jsonl is not valid JSON .*nested too deeply"),
        (references, '{"id": "00000", "references": ["a dog"]}\n', "no references for the target.*00001"),
    ]:
        damaged.write_text(text)
        with pytest.raises(InputError, match=expected + ".*unembed eval-set SPEC --out .* --overwrite"):
            load_eval_set(tmp_path / "set")
        manifest.write_text(good_manifest)
        references.write_text(good_references)


def test_unknown_eval_set_lists_the_known_ones(capsys, tmp_path):
    assert main(["eval-set", "coco", "--out", str(tmp_path / "e")]) == 2
    assert "unknown eval set 'coco'. Known: captions, mils-audio, mils-image, minibind-audio, minibind-image" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_eval_set_inverted_and_scored_end_to_end(tmp_path, capsys):
    """`unembed eval-set` -> invert_many (edit, 1 step, the bank without the answers) -> PREDICTIONS -> `unembed eval`."""
    folder = tmp_path / "minibind"
    assert main(["eval-set", "minibind-image", "--n", "10", "--out", str(folder)]) == 0
    eval_set = load_eval_set(folder)
    results = invert_many(eval_set.vectors, space=eval_set.space, bank=eval_set.bank, modality=eval_set.modality,
                          generator="edit", steps=1, exclude=eval_set.exclude, seed=0)
    assert not {result.bootstrap_text for result in results} & set(eval_set.exclude)  # held out of the bank
    write_predictions(folder / "predictions.parquet", eval_set.ids, [result.text for result in results],
                      bootstrap=[result.bootstrap_text for result in results])
    capsys.readouterr()
    args = ["eval", str(folder / "predictions.parquet"), "--references", str(folder / "references.jsonl"),
            "--column", "text,bootstrap_text", "--json", str(folder / "eval.json")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    report = json.loads((folder / "eval.json").read_text())
    loop, bank = report["runs"]
    assert (loop["column"], loop["n"], bank["column"], bank["n"]) == ("text", 10, "bootstrap_text", 10)
    for run in (loop, bank):
        assert {"BLEU-4", "METEOR", "ROUGE-L", "CIDEr"} <= set(run["scores"])
        assert 0 < run["scores"]["BLEU-4"] <= 1 and 0 < run["scores"]["METEOR"] <= 1
        assert f"| bootstrap_text | 10 | {100 * bank['scores']['BLEU-1']:.1f} |" in printed
    # The world's captions are short and share most words, so even wrong attributes keep BLEU-1 high.
    assert bank["scores"]["BLEU-1"] > 0.5


def test_an_eval_set_does_not_replace_files_that_are_not_an_eval_sets(tmp_path, capsys):
    """The probe: `eval-set --out e` replaced the user's own e/references.jsonl without --overwrite."""
    folder = tmp_path / "e"
    folder.mkdir()
    (folder / "references.jsonl").write_text("mine\n")
    assert main(["eval-set", "minibind-image", "--n", "2", "--out", str(folder)]) == 2
    assert "is not an eval set" in capsys.readouterr().err and (folder / "references.jsonl").read_text() == "mine\n"
    assert main(["eval-set", "minibind-image", "--n", "2", "--out", str(folder), "--overwrite"]) == 0
