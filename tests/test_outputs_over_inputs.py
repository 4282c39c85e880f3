"""Outputs never overwrite inputs: every command that writes refuses an output that is one of its inputs, however the
path is spelled, and the input is left as it was."""

import os

import numpy as np
import pytest

from unembed.cli import main


@pytest.fixture
def vector(tmp_path, minilm):
    path = tmp_path / "v.npy"
    np.save(path, minilm.embed_text(["a dog on a beach"])[0])
    return path


@pytest.mark.parametrize("spelling", ["same", "relative", "symlink"])
def test_invert_refuses_to_write_its_json_over_its_vector(tmp_path, vector, capsys, monkeypatch, spelling):
    before = vector.read_bytes()
    monkeypatch.chdir(tmp_path)
    output = {"same": str(vector), "relative": "./v.npy", "symlink": str(tmp_path / "link.npy")}[spelling]
    if spelling == "symlink":
        os.symlink(vector, output)
    assert main(["invert", "--vector", str(vector), "--space", "minilm", "--json", output]) == 2
    assert "is the same file as the input" in capsys.readouterr().err
    assert vector.read_bytes() == before


def test_arith_refuses_to_render_over_a_term(tmp_path, capsys):
    from PIL import Image

    picture = tmp_path / "scene.png"
    Image.new("RGB", (64, 64), "red").save(picture)
    before = picture.read_bytes()
    assert main(["arith", str(picture), "+", "blue", "--space", "minibind", "--render", str(picture)]) == 2
    assert "--render" in capsys.readouterr().err and picture.read_bytes() == before


def test_eval_refuses_to_write_its_report_over_its_predictions(tmp_path, capsys):
    predictions = tmp_path / "predictions.parquet"
    predictions.write_bytes(b"PAR1 not really")
    assert main(["eval", str(predictions), "--references", str(tmp_path / "r.jsonl"), "--json", str(predictions)]) == 2
    assert "is the same file as the input" in capsys.readouterr().err
    assert predictions.read_bytes() == b"PAR1 not really"


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_eval_set_refuses_an_out_folder_that_holds_its_caption_file(tmp_path, capsys, monkeypatch, overwrite):
    """The probe: `eval-set captions:e/exclude.txt --out e` replaced its own captions with the eval set's exclude.txt."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "e").mkdir()
    captions = tmp_path / "e" / "exclude.txt"
    captions.write_text("a red car\na blue sky\na green tree\n", encoding="utf-8")
    for spec, out in [("captions:e/exclude.txt", "e"), (f"captions:{captions}", "e/../e/")]:
        assert main(["eval-set", spec, "--n", "2", "--out", out, *overwrite]) == 2
        err = capsys.readouterr().err
        assert f"--out {out.rstrip('/')} writes {out.rstrip('/')}/exclude.txt, the same file as the input" in err
        assert "Choose another path for --out" in err
        assert "Traceback" not in err
    assert captions.read_text(encoding="utf-8") == "a red car\na blue sky\na green tree\n"
    assert sorted(path.name for path in (tmp_path / "e").iterdir()) == ["exclude.txt"]  # nothing written beside it


def test_a_new_output_beside_the_input_is_written(tmp_path, vector, capsys):
    assert main(["invert", "--vector", str(vector), "--space", "minilm", "--bank", str(_captions(tmp_path)),
                 "--steps", "0", "--json", str(tmp_path / "result.json")]) == 0
    assert (tmp_path / "result.json").is_file()


def _captions(tmp_path):
    path = tmp_path / "captions.txt"
    path.write_text("a dog on a beach\na cat on a sofa\n", encoding="utf-8")
    return path


def test_an_output_inside_an_input_folder_is_refused(tmp_path, vector, minilm, capsys):
    """The probe's data loss: `--json BANK/texts.txt` replaced a bank's captions, and `eval RUN --json RUN/part-...`
    a run's shard. A bank and a run's folder are inputs; nothing is written inside them."""
    from unembed.index import build_bank, load_bank

    bank = tmp_path / "bank"
    build_bank(texts=["a dog on a beach", "a red car"], space=minilm, out=bank)
    before = (bank / "texts.txt").read_bytes()
    assert main(["invert", "--vector", str(vector), "--space", "minilm", "--bank", str(bank), "--steps", "0",
                 "--json", str(bank / "texts.txt")]) == 2  # fmt: skip
    assert "is inside the input" in capsys.readouterr().err and (bank / "texts.txt").read_bytes() == before
    load_bank(bank)  # whole
    run = tmp_path / "run"
    run.mkdir()
    (run / "part-000000.parquet").write_bytes(b"PAR1 shard")
    assert main(["eval", str(run), "--references", str(tmp_path / "refs.jsonl"), "--json", str(run / "part-000000.parquet")]) == 2
    assert "is inside the input" in capsys.readouterr().err and (run / "part-000000.parquet").read_bytes() == b"PAR1 shard"


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_an_output_that_is_a_link_or_a_fifo_is_refused_not_replaced(tmp_path, vector, capsys, kind):
    """Atomic writes rename a new file into place: over /dev/full, a FIFO or a link, that replaced it (as root, the
    probe turned /dev/full into a file). Every write refuses such a path; the link and what it names are left."""
    output, target = tmp_path / "out.json", tmp_path / "elsewhere.json"
    if kind == "symlink":
        target.write_text("kept")
        os.symlink(target, output)
    else:
        os.mkfifo(output)
    assert main(["invert", "--vector", str(vector), "--space", "minilm", "--steps", "0", "--json", str(output)]) == 2
    assert "a link, a device or a FIFO" in capsys.readouterr().err
    assert output.is_symlink() and target.read_text() == "kept" if kind == "symlink" else output.is_fifo()


def test_run_refuses_an_out_inside_its_bank_or_its_folder_of_media(tmp_path, vector, minilm, capsys):
    """The probe: `run t.npy --out BANK/sub --bank BANK` wrote a run into the bank (which then could not be rebuilt:
    a foreign folder in it), and `run imgs --out imgs/pred` into its own media, whose `_job.json` the next run read
    as a target and could never resume. `run` reads its input and --bank: an --out inside either is refused up front."""
    from unembed.index import build_bank

    bank = tmp_path / "bank"
    build_bank(texts=["a dog on a beach", "a red car"], space=minilm, out=bank)
    before = sorted(path.name for path in bank.iterdir())
    np.save(tmp_path / "t.npy", np.atleast_2d(np.load(vector)))
    assert main(["run", str(tmp_path / "t.npy"), "--out", str(bank / "sub"), "--bank", str(bank), "--steps", "0"]) == 2
    error = capsys.readouterr().err
    assert f"--out {bank / 'sub'} writes {bank / 'sub' / '_job.json'}, inside the input {bank}" in error
    assert "Traceback" not in error
    assert sorted(path.name for path in bank.iterdir()) == before
    media = tmp_path / "imgs"
    media.mkdir()
    (media / "scene.png").write_bytes(b"a picture")
    assert main(["run", str(media), "--out", str(media / "pred"), "--bank", str(bank), "--steps", "0"]) == 2
    assert f"--out {media / 'pred'} writes {media / 'pred' / '_job.json'}, inside the input {media}" in capsys.readouterr().err
    assert [path.name for path in media.iterdir()] == ["scene.png"]
    assert not (tmp_path / ".imgs.lock").exists() and not (media / ".pred.lock").exists()
