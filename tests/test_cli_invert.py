"""`unembed invert` and `unembed bench invert` end to end on real offline models."""

import json
import os

import numpy as np
import pytest

from unembed.cli import main


@pytest.fixture()
def caption_file(tmp_path, image_captions, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # named/file banks are cached here
    source = tmp_path / "captions.txt"
    source.write_text("\n".join(image_captions[:150]), encoding="utf-8")
    return source


@pytest.mark.slow
def test_invert_vector_with_mutate_writes_json_and_plot(caption_file, tmp_path, capsys, minilm):
    pytest.importorskip("llama_cpp")  # mutate's fluency gate scores with SmolLM2
    pytest.importorskip("matplotlib")
    np.save(tmp_path / "target.npy", minilm.embed_text(["a brown dog running on a sandy beach"])[0])
    args = ["invert", "--vector", str(tmp_path / "target.npy"), "--space", "minilm", "--bank", str(caption_file),
            "--generator", "mutate", "--steps", "2", "--requested", "10", "--keep", "5",
            "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png")]
    assert main(args) == 0
    first_line = capsys.readouterr().out.splitlines()[0]
    result = json.loads((tmp_path / "r.json").read_text())
    assert first_line == f"{result['score']:.3f}  {result['text']}"
    assert result["config"]["generator"] == "mutate" and result["config"]["fluency_margin"] == 0.0
    assert len(result["history"]) == 3 and result["score"] >= result["history"][0]["best_score"]
    assert (tmp_path / "r.png").stat().st_size > 1000
    # The bank built from the caption file is cached and reused.
    assert list((tmp_path / "cache" / "unembed" / "banks").iterdir())


def test_invert_needs_exactly_one_input(caption_file, capsys):
    assert main(["invert", "--text", "a cat", "--vector", "x.npy", "--bank", str(caption_file)]) == 2
    assert "exactly one" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_invert_reports_the_figures(caption_file, tmp_path, capsys):
    pytest.importorskip("llama_cpp")
    out = tmp_path / "bench.json"
    args = ["bench", "invert", "--space", "minilm", "--bank", str(caption_file), "--limit", "2",
            "--generator", "mutate", "--steps", "2", "--requested", "8", "--keep", "5", "--reference-limit", "1",
            "--json", str(out)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    for key in ["n", "bank_top1_cosine", "final_cosine", "exact_match_rate", "bleu4", "fluency", "bank_top1_fluency",
                "seconds_per_target", "llm_calls_per_target", "cache_hit_rate", "reference_final_cosine",
                "reference_seconds_per_target", "reference_bleu4", "reference_fluency"]:
        assert key in report, key
    assert report["n"] == 2 and report["reference_n"] == 1
    assert report["final_cosine"] >= report["bank_top1_cosine"]
    # Held out: the bank never returns the target itself at the start.
    assert all(example["bank_top1"] != example["target"] for example in report["examples"])
    assert "final_cosine" in capsys.readouterr().out


def test_invert_file_input_needs_a_space_with_its_modality(caption_file, tmp_path, capsys):
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert main(["invert", str(image), "--space", "minilm", "--bank", str(caption_file), "--generator", "mutate"]) == 2
    assert "cannot embed 'image'" in capsys.readouterr().err


@pytest.mark.parametrize("variable, under", [("UNEMBED_CACHE_DIR", ""), ("UNEMBED_CACHE_DIR", "/sub"), ("XDG_CACHE_HOME", "")])
def test_a_cache_variable_naming_a_file_says_to_point_it_at_a_folder(caption_file, tmp_path, capsys, monkeypatch, variable, under):
    """The probe: UNEMBED_CACHE_DIR=a file gave "cannot write .../banks/.c.txt-minilm.lock", naming no variable."""
    (tmp_path / "notes").write_text("mine", encoding="utf-8")
    monkeypatch.delenv("UNEMBED_CACHE_DIR", raising=False)
    monkeypatch.setenv(variable, str(tmp_path / "notes") + under)
    args = ["invert", "--text", "a dog on a beach", "--space", "minilm", "--bank", str(caption_file), "--steps", "0"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{variable}={tmp_path / 'notes'}{under}: {tmp_path / 'notes'} is a file, not a folder" in err
    assert f"Point {variable} at a folder" in err and "Traceback" not in err
    assert (tmp_path / "notes").read_text(encoding="utf-8") == "mine"


def test_patience_says_0_is_allowed_and_0_never_stops_early(caption_file, capsys):
    """The probe: --patience -1 said "must be at least 1", though 0 (never stop early) is valid."""
    args = ["invert", "--text", "a dog on a beach", "--space", "minilm", "--bank", str(caption_file), "--generator", "mutate"]
    assert main([*args, "--patience", "-1", "--steps", "0"]) == 2
    err = capsys.readouterr().err
    assert "--patience must be 0 or more (0: never stop early" in err and "at least 1" not in err
    assert main([*args, "--patience", "0", "--steps", "2", "--requested", "3", "--no-fluency", "--json", str(caption_file.parent / "r.json")]) == 0
    result = json.loads((caption_file.parent / "r.json").read_text())
    assert result["config"]["patience"] is None and len(result["history"]) == 3  # every step ran


def test_fluency_and_no_fluency_together_are_refused_by_argparse(caption_file, capsys):
    """The probe: --fluency --no-fluency was accepted (the last one won)."""
    with pytest.raises(SystemExit) as exit:
        main(["invert", "--text", "a dog", "--bank", str(caption_file), "--fluency", "--no-fluency", "--steps", "0"])
    assert exit.value.code == 2 and "not allowed with argument --fluency" in capsys.readouterr().err


def test_the_mils_data_variable_naming_a_file_is_refused_before_any_download(caption_file, tmp_path, capsys, monkeypatch):
    """The probe: UNEMBED_MILS_DIR=a file was ignored; the command tried to download MILS's captions and said to point
    the variable at a folder only after the download failed."""
    import unembed.index.sources as sources

    def no_download(*args, **kwargs):
        raise AssertionError("a download was tried")

    monkeypatch.setattr(sources, "download_file", no_download)
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    monkeypatch.setenv("UNEMBED_MILS_DIR", str(tmp_path / "notes.txt"))
    assert main(["invert", "--text", "a dog", "--space", "minilm", "--bank", "mils-audio", "--steps", "0"]) == 2
    err = capsys.readouterr().err
    assert f"UNEMBED_MILS_DIR={tmp_path / 'notes.txt'}: {tmp_path / 'notes.txt'} is a file, not a folder" in err
    assert "Point UNEMBED_MILS_DIR at the folder" in err and "Traceback" not in err


def test_a_folder_named_like_a_vector_file_is_called_a_folder(tmp_path, capsys):
    """The probe: `invert adir.npy` (a folder) said "adir.npy is a vector file: give it as --vector adir.npy"."""
    (tmp_path / "adir.npy").mkdir()
    assert main(["invert", str(tmp_path / "adir.npy"), "--space", "minilm"]) == 2
    err = capsys.readouterr().err
    assert "is a folder, not a file" in err and "--vector" not in err


def test_a_blank_why_and_an_empty_ray_address_are_refused_not_ignored(tmp_path, capsys):
    """The probe: `--why ''` was ignored without a word; `--ray ""` (an unset $ADDRESS) started a local Ray instead of
    joining the cluster."""
    assert main(["invert", "--text", "a dog", "--space", "minilm", "--why", " "]) == 2
    assert "--why is blank" in capsys.readouterr().err
    np.save(tmp_path / "t.npy", np.ones((2, 384), np.float32))
    assert main(["run", str(tmp_path / "t.npy"), "--out", str(tmp_path / "run"), "--ray", ""]) == 2
    assert "--ray was given an empty address" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, a folder that takes no new file")
@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_an_output_in_a_folder_that_takes_no_file_is_refused_before_the_work(tmp_path, capsys, option):
    """The probe: `invert ... --json /proc/x.json` ran the inversion and printed its answer, then failed to write: the
    check before the work asked only what the path was, and /proc (or any folder, to root) passed."""
    assert main(["invert", "--text", "a dog", "--space", "minilm", "--bank", str(tmp_path / "none"), option, "/proc/x.png"]) == 2
    out, err = capsys.readouterr()
    assert "cannot write '/proc/x.png'" in err and out == ""
