import json

import numpy as np
import pytest

from unembed.cli import main


@pytest.fixture(scope="module")
def cli_bank(tmp_path_factory, image_captions):
    folder = tmp_path_factory.mktemp("cli")
    source = folder / "captions.txt"
    source.write_text("\n".join(image_captions[:200]), encoding="utf-8")
    assert main(["bank", "build", "--space", "minilm", "--from", str(source), "--out", str(folder / "bank")]) == 0
    return folder / "bank"


def test_bank_search_by_text_prints_json_best_first(cli_bank, capsys, image_captions):
    target = " ".join(image_captions[7].split())
    assert main(["bank", "search", str(cli_bank), "--text", target, "-k", "3", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["query"] == target and row["results"][0]["text"] == target
    assert [hit["rank"] for hit in row["results"]] == [1, 2, 3]


def test_bank_search_by_vector_file_and_info(cli_bank, tmp_path, capsys, minilm):
    vectors = minilm.embed_text(["a bird in a tree", "a city at night"])
    np.save(tmp_path / "q.npy", vectors)
    assert main(["bank", "search", str(cli_bank), "--vector", str(tmp_path / "q.npy"), "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("query: ") == 2 and "   1  " in out
    assert main(["bank", "info", str(cli_bank)]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 200


@pytest.mark.parametrize("payload, problem", [
    (np.ones(10, dtype=np.float32), "dimension 10"),
    (np.zeros(384, dtype=np.float32), "all zero"),
])
def test_bad_vector_file_exits_2_with_the_problem(cli_bank, tmp_path, capsys, payload, problem):
    np.save(tmp_path / "bad.npy", payload)
    assert main(["bank", "search", str(cli_bank), "--vector", str(tmp_path / "bad.npy")]) == 2
    assert problem in capsys.readouterr().err


def test_pickled_vector_file_is_refused_not_unpickled(cli_bank, tmp_path, capsys):
    np.save(tmp_path / "obj.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    assert main(["bank", "search", str(cli_bank), "--vector", str(tmp_path / "obj.npy")]) == 2
    assert "not a plain .npy" in capsys.readouterr().err


def test_missing_bank_and_bad_source_exit_2(tmp_path, capsys):
    assert main(["bank", "info", str(tmp_path / "nope")]) == 2
    assert "no bank at" in capsys.readouterr().err
    assert main(["bank", "build", "--from", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "b")]) == 2
    assert "neither a file nor a named source" in capsys.readouterr().err


def test_bench_bank_reports_exact_recall_for_a_flat_index(tmp_path, image_captions):
    source = tmp_path / "captions.txt"
    source.write_text("\n".join(image_captions[:300]), encoding="utf-8")
    report_path = tmp_path / "bench.json"
    assert main(["bench", "bank", "--n", "3000", "--queries", "20", "--source", str(source), "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["index"] == "Flat" and report["n_vectors"] == 3000 and report["dim"] == 384
    assert report["recall_at_10"] == 1.0 and report["recall_at_50"] == 1.0
    assert report["reference_bank_size"] == 300 and report["bootstrap_speedup_vs_reencode"] > 1
    report_path = tmp_path / "ivf.json"
    assert main(["bench", "bank", "--n", "3000", "--queries", "20", "--source", str(source), "--index", "IVF16,Flat",
                 "--search-params", "nprobe=1", "--json", str(report_path)]) == 0
    assert json.loads(report_path.read_text())["recall_at_50"] < 1.0, "one probe of 16 lists cannot be exact"
