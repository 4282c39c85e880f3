"""`unembed bench space` runs end to end on a random-weight ImageBind and writes its report."""

import json

import pytest

from unembed.cli import main

pytest.importorskip("torchaudio")


def test_bench_space_writes_speeds_relative_to_a_same_run_baseline(tmp_path, capsys):
    report_path = tmp_path / "bench.json"
    code = main([
        "bench", "space", "--space", "imagebind", "--random-weights", "--size", "tiny", "--device", "cpu",
        "--dtypes", "float32,bfloat16", "--batch-sizes", "2,1", "--batches", "1", "--modalities", "text,audio",
        "--json", str(report_path),
    ])
    assert code == 0
    report = json.loads(report_path.read_text())
    assert report["space"] == "imagebind:random-tiny-seed0" and report["random_weights"] is True
    rows = report["rows"]
    assert [(r["modality"], r["dtype"], r["batch_size"]) for r in rows] == [
        (modality, dtype, size) for modality in ("text", "audio") for dtype in ("float32", "bfloat16") for size in (1, 2)
    ]
    for row in rows:
        assert row["items"] == row["batch_size"] and row["items_per_second"] > 0
    for modality in ("text", "audio"):
        first = next(r for r in rows if r["modality"] == modality)
        assert first["ratio_to_baseline"] == 1.0
    assert all(r["clips_per_second"] == pytest.approx(3 * r["items_per_second"], rel=1e-3) for r in rows if r["modality"] == "audio")
    assert "items/s" in capsys.readouterr().out


def test_bench_space_refuses_a_space_without_a_torch_runtime(tmp_path, capsys):
    assert main(["bench", "space", "--space", "minilm", "--json", str(tmp_path / "x.json")]) == 2
    assert "no torch runtime" in capsys.readouterr().err
