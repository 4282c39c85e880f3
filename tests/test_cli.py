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
    work = ["--work", str(tmp_path / "work")]
    assert main(["bench", "bank", "--n", "3000", "--queries", "20", "--source", str(source), *work, "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["index"] == "Flat" and report["n_vectors"] == 3000 and report["dim"] == 384
    assert report["recall_at_10"] == 1.0 and report["recall_at_50"] == 1.0
    assert report["reference_bank_size"] == 300 and report["bootstrap_speedup_vs_reencode"] > 1
    # Built and searched in fresh processes, each reporting its own peak memory.
    assert report["build_peak_rss_mb"] > 50 and report["query_rss_mb"] > 50 and report["vectors_bytes"] == 0
    vectors = (tmp_path / "work" / "vectors.npy").stat()
    report_path = tmp_path / "ivf.json"
    assert main(["bench", "bank", "--n", "3000", "--queries", "20", "--source", str(source), *work, "--index", "IVF16,Flat,RFlat",
                 "--search-params", "nprobe=1", "--sweep", "nprobe=16,k_factor_rf=4", "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["recall_at_50"] < 1.0, "one probe of 16 lists cannot be exact"
    assert report["sweep"][0]["recall_at_50"] == 1.0, "every list probed, the shortlist re-ranked from the vectors: exact"
    assert report["vectors_bytes"] == 3000 * 384 * 4 + 128, "the bank links the bench's vectors file"
    assert (tmp_path / "work" / "vectors.npy").stat().st_mtime_ns == vectors.st_mtime_ns, "the second run reused it"


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["unembed.cli", "torch.", "unembed.runner"])
def test_ctrl_c_while_the_command_still_imports_ends_quietly(moment):
    """The probe: Ctrl-C while `unembed` imported torch printed a KeyboardInterrupt traceback. The signal is sent at
    three moments of the imports, read from `-X importtime`: the command's own module loaded (main begins), in the
    middle of torch, and after torch (the runner's modules)."""
    import signal
    import subprocess
    import sys

    command = [sys.executable, "-X", "importtime", "-m", "unembed", "bank", "search", "no-such-bank", "--text", "a dog"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in process.stderr:
        seen.append(line)
        module = line.rsplit("|", 1)[-1].strip()
        if module == moment or (moment.endswith(".") and module.startswith(moment)):
            process.send_signal(signal.SIGINT)
            break
    else:
        pytest.fail(f"{moment} was never imported:\n{''.join(seen[-20:])}")
    _, rest = process.communicate(timeout=120)
    err = "".join(seen) + rest
    assert process.returncode == 130, err[-3000:]
    assert "unembed: interrupted" in err and "Traceback" not in err and "KeyboardInterrupt" not in err


def test_bank_search_on_a_caption_file_says_how_to_build_a_bank(tmp_path, capsys):
    captions = tmp_path / "c.txt"
    captions.write_text("a red car\na blue sky\n", encoding="utf-8")
    assert main(["bank", "search", str(captions), "--text", "red"]) == 2
    err = capsys.readouterr().err
    assert f"{captions} is a file, not a bank" in err and "Traceback" not in err
    assert f"`unembed bank build --from {captions} --out BANK_DIR`" in err
    assert captions.read_text(encoding="utf-8") == "a red car\na blue sky\n"


@pytest.mark.parametrize("text", ["", "   "])
def test_bank_search_refuses_a_blank_text(cli_bank, capsys, text):
    """Probe S005/S006: `bank search --text ""` embedded nothing and printed results."""
    assert main(["bank", "search", str(cli_bank), "--text", text]) == 2
    captured = capsys.readouterr()
    assert "--text is blank" in captured.err and "query:" not in captured.out


@pytest.mark.parametrize(
    "module, called, command, resumes",
    [
        ("invert", "invert", ["invert", "--space", "minilm", "--text", "a dog"], False),
        ("bank", "build_bank", ["bank", "build", "--from", "mils-image", "--out", "BANK"], True),
    ],
)
def test_ctrl_c_promises_a_resume_only_where_the_command_keeps_its_progress(module, called, command, resumes, tmp_path, capsys, monkeypatch):
    """The probe: Ctrl-C during `unembed invert` said "Run the same command again to resume where it stopped"."""
    import importlib

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module(f"unembed.cli.{module}"), called, interrupted)
    assert main([part.replace("BANK", str(tmp_path / "bank")) for part in command]) == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the model's loading lines
    assert err == ("unembed: interrupted. Run the same command again to resume where it stopped." if resumes else "unembed: interrupted; stopped.")
