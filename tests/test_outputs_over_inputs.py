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


def test_a_new_output_beside_the_input_is_written(tmp_path, vector, capsys):
    assert main(["invert", "--vector", str(vector), "--space", "minilm", "--bank", str(_captions(tmp_path)),
                 "--steps", "0", "--json", str(tmp_path / "result.json")]) == 0
    assert (tmp_path / "result.json").is_file()


def _captions(tmp_path):
    path = tmp_path / "captions.txt"
    path.write_text("a dog on a beach\na cat on a sofa\n", encoding="utf-8")
    return path
