"""Decoders (unembed.decoder): training on real captions and MiniLM embeddings, resuming, loading, the
`decoder` generator, and the errors a user meets. Semantic claims use the decoder unembed ships for MiniLM."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from unembed.decoder import TrainingSettings, load_decoder, shipped_decoder, train_decoder
from unembed.errors import DecoderError, GeneratorError, InputError, WeightsNotFoundError
from unembed.generators import ProposalRequest, default_generator, load_generator
from unembed.index import collect_captions, is_held_out
from unembed.spaces import load_space
from unembed.spaces.base import Space

TINY = TrainingSettings(width=32, layers=1, heads=2, prefix=2, context=24, vocab=400, epochs=2, batch=16, warmup=5, validation=20)


class WordSpace(Space):
    """A user's own text space: counts of hashed words, `dim` wide (a real, if crude, embedding)."""

    modalities = ("text",)

    def __init__(self, dim: int, spec: str = "words"):
        self.spec, self.dim = spec, dim

    def _encode(self, modality, batch):
        rows = np.zeros((len(batch), self.dim), dtype=np.float32)
        for row, text in zip(rows, batch):
            for word in text.lower().split():
                row[hash(word) % self.dim] += 1
        return rows + 1e-3


@pytest.fixture(scope="module")
def captions(tmp_path_factory, image_captions):
    path = tmp_path_factory.mktemp("captions") / "captions.txt"
    path.write_text("\n".join(image_captions[:300]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, captions):
    out = tmp_path_factory.mktemp("decoder") / "tiny"
    return train_decoder("minilm", [captions], out, settings=TINY, progress=False)


def test_a_trained_decoder_is_a_folder_that_records_how_it_was_made(tiny, captions):
    folder = tiny.path
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    config = json.loads((folder / "config.json").read_text())
    assert config["space"] == "minilm" and config["dim"] == 384
    assert config["settings"]["seed"] == 0 and config["settings"]["width"] == 32
    assert config["data"]["sources"] == [str(captions)]
    held_out = sum(is_held_out(text) for text in collect_captions([captions]))
    assert config["excluded"]["held_out"] == held_out > 0
    assert config["data"]["captions"] == len(collect_captions([captions])) - held_out
    assert config["training"]["finished"] and config["training"]["validation_loss"] > 0
    again = load_decoder(folder, load_space("minilm"))
    texts = again.generate(load_space("minilm").embed_text(["a dog on a beach"]), 4, seed=1)[0]
    assert len(texts) == 4 and all(isinstance(text, str) for text in texts)
    assert texts == again.generate(load_space("minilm").embed_text(["a dog on a beach"]), 4, seed=1)[0]


def test_excluded_captions_are_never_trained_on(tmp_path, captions, image_captions):
    excluded = tmp_path / "targets.txt"
    excluded.write_text("\n".join(image_captions[:10]) + "\n", encoding="utf-8")
    decoder = train_decoder("minilm", [captions], tmp_path / "d", exclude=[excluded], settings=TINY, progress=False)
    named = [text for text in collect_captions([excluded]) if not is_held_out(text)]
    assert decoder.config["excluded"]["by_files"] == len(named) > 0
    assert decoder.config["data"]["captions"] == len(collect_captions([captions])) - len(named) - decoder.config["excluded"]["held_out"]


def test_a_budget_stops_training_and_the_same_call_resumes_it(tmp_path, captions):
    out = tmp_path / "d"
    settings = TrainingSettings(**{**TINY.__dict__, "epochs": 6})
    stopped = train_decoder("minilm", [captions], out, settings=settings, budget_minutes=0.0, progress=False)
    assert not stopped.config["training"]["finished"] and stopped.config["training"]["steps"] == 0
    assert (out / ".training" / "checkpoint.pt").is_file()
    finished = train_decoder("minilm", [captions], out, settings=settings, progress=False)
    assert finished.config["training"]["finished"] and finished.config["training"]["steps"] == finished.config["training"]["planned_steps"]
    assert not (out / ".training").exists()
    # Once finished, the same call again has nothing to do: it returns the decoder, trains nothing, writes nothing.
    written = {path.name: path.stat().st_mtime_ns for path in out.iterdir()}
    again = train_decoder("minilm", [captions], out, settings=settings, progress=False)
    assert again.config["training"] == finished.config["training"] and {path.name: path.stat().st_mtime_ns for path in out.iterdir()} == written
    assert not (out / ".training").exists()  # no embedding of the captions either


@pytest.mark.slow
def test_ctrl_c_keeps_a_checkpoint_that_the_same_command_resumes(tmp_path, captions):
    out = tmp_path / "d"
    command = [sys.executable, "-m", "unembed", "train-decoder", "--from", str(captions), "--out", str(out), "--width", "32",
               "--layers", "1", "--heads", "2", "--vocab", "400", "--batch", "16", "--epochs", "400", "--validation", "20"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    checkpoint = out / ".training" / "tokenizer.json"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # into the training steps
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-2000:]
    assert "resume" in stderr
    import torch

    step = torch.load(out / ".training" / "checkpoint.pt", weights_only=True)["step"]
    assert step > 0
    # The same command resumes (a budget only stops it sooner: it is not part of what a checkpoint must match).
    resumed = subprocess.run([*command, "--budget-minutes", "0.3"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from step {step}" in resumed.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["steps"] > step and not config["training"]["finished"]


def test_bad_training_input_is_a_clear_error(tmp_path, captions):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DecoderError, match="no captions to train on"):
        train_decoder("minilm", [empty], tmp_path / "a", settings=TINY, progress=False)
    with pytest.raises(DecoderError, match="every one of the .* captions is excluded"):
        train_decoder("minilm", [captions], tmp_path / "b", exclude=[captions], settings=TINY, progress=False)
    few = tmp_path / "few.txt"  # the probe: "Give more captions, or a smaller --batch" when --validation held them all
    few.write_text("\n".join(captions.read_text(encoding="utf-8").splitlines()[:TINY.validation]), encoding="utf-8")
    with pytest.raises(DecoderError, match=rf"0 captions are left to train on.* {TINY.validation} are held for validation "
                                           rf"\(--validation {TINY.validation}\).*a smaller --validation"):
        train_decoder("minilm", [few], tmp_path / "c", settings=TINY, progress=False)
    folder = tmp_path / "d"  # the probe: its captions were d/config.json, overwritten by the decoder's config
    folder.mkdir()
    (folder / "config.json").write_bytes(captions.read_bytes())
    with pytest.raises(InputError, match="holds config.json that are not a decoder's"):
        train_decoder("minilm", [folder / "config.json"], folder, settings=TINY, progress=False)
    assert (folder / "config.json").read_bytes() == captions.read_bytes()


def test_a_decoder_of_another_space_or_width_is_refused(tiny):
    with pytest.raises(DecoderError, match="reads 384-d embeddings of 'minilm', but space 'words' makes 64-d"):
        load_decoder(tiny.path, WordSpace(64))
    with pytest.raises(DecoderError, match="trained on 'minilm' embeddings, not 'words'.*train-decoder"):
        load_decoder(tiny.path, WordSpace(384))
    minibind = load_space("minibind")  # MiniBind's text embeddings are MiniLM's: the decoder serves it
    assert load_decoder(tiny.path, minibind).space == "minilm"
    generator = load_generator(f"decoder:{tiny.path}")
    with pytest.raises(DecoderError, match="make.* 64-d"):
        generator.attach(WordSpace(64))


def test_damaged_or_missing_weights_are_clear_errors(tiny, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny.path, broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(DecoderError, match="model.safetensors is damaged"):
        load_decoder(broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(WeightsNotFoundError, match="has no model.safetensors.*train-decoder"):
        load_decoder(broken)
    with pytest.raises(WeightsNotFoundError, match="not a folder"):
        load_decoder(tmp_path / "nowhere")


def test_decoder_in_a_space_without_one_names_train_decoder():
    space = WordSpace(64)
    assert default_generator(space) == "edit"
    with pytest.raises(GeneratorError, match="no decoder for space 'words'.*unembed train-decoder --space words"):
        load_generator("decoder").attach(space)


def test_the_shipped_decoder_is_minilms_default_and_minibind_keeps_edit():
    assert shipped_decoder(load_space("minilm")) == shipped_decoder(load_space("minibind")) is not None
    assert default_generator(load_space("minilm")) == "decoder+edit"
    assert default_generator(load_space("minibind")) == "edit"  # its own choice (Space.generator): its world's grammar


def test_the_shipped_decoder_writes_held_out_captions_close_to_their_embeddings():
    """A semantic claim on the real model: for MILS captions it never saw, its greedy sentence is nearer the
    caption's embedding than the nearest of 400 other real captions, and English (words of the corpus)."""
    space = load_space("minilm")
    decoder = load_decoder(shipped_decoder(space), space)
    assert "held_out" in decoder.config["excluded"]
    targets = [text for text in collect_captions(["mils-image"]) if is_held_out(text)][:30]
    vectors = space.embed_text(targets)
    greedy = [texts[0] for texts in decoder.generate(vectors, 1)]
    decoded = np.sum(space.embed_text(greedy) * vectors, axis=1)
    others = space.embed_text([text for text in collect_captions(["mils-image"]) if not is_held_out(text)][:400])
    nearest = (vectors @ others.T).max(axis=1)
    assert decoded.mean() > nearest.mean() + 0.1 and decoded.mean() > 0.8


def test_the_decoder_generator_proposes_for_each_request_and_reconditions_on_the_gap():
    space = load_space("minilm")
    generator = load_generator("decoder")
    generator.attach(space)
    target = space.embed_text(["a dog running on a sandy beach"])[0]
    plain = ProposalRequest(template="", candidates=[], neighbours=[], requested=8, max_words=10, seed=3, target=target)
    kept = ProposalRequest(template="", candidates=[(0.6, "a cat on a sofa")], neighbours=[], requested=8, max_words=10, seed=3,
                           target=target, embed=space.embed_text)
    first, second = generator.propose([plain, kept])
    assert 1 <= len(first.texts) <= 8 and first.error is None
    assert first.texts != second.texts  # half of the second's samples read the gap, not the target
    assert generator.propose([plain])[0].texts == first.texts  # seeded


def test_the_held_out_split_is_one_caption_in_fifty_by_its_text():
    captions = collect_captions(["mils-image"])
    held_out = [text for text in captions if is_held_out(text)]
    assert 0.015 < len(held_out) / len(captions) < 0.025
    # by the text, not its place or case: the same caption is held out in any file, in any process
    assert all(is_held_out(text.upper()) and is_held_out(f"  {text} ") for text in held_out[:20])


def test_a_decoder_trained_on_mils_captions_warns_their_licence(monkeypatch):
    from unembed import LicenceWarning
    from unembed.index import sources

    monkeypatch.setattr(sources, "_warned", set())
    space = load_space("minilm")
    with pytest.warns(LicenceWarning, match=r"mils-image: MILS's captions are licensed CC BY-NC 4.0 .*; a bank or decoder built"):
        load_decoder(shipped_decoder(space), space)


@pytest.mark.parametrize("change, said", [
    ({"epochs": 0}, "epochs must be at least 1"),  # wrote an untrained decoder and said "finished"
    ({"prefix": 0}, "prefix must be at least 1"),  # a decoder that never reads the embedding
    ({"width": 1_000_000}, "width must be at most 4096"),
    ({"heads": 3}, "must be a multiple of heads"),
    ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
    ({"dropout": 1.5}, "dropout must be in 0..1"),
    ({"noise": -1}, "noise must be in 0..2"),
])
def test_training_settings_out_of_range_are_refused(change, said):
    with pytest.raises(InputError, match=said):
        TrainingSettings(**{**TINY.__dict__, **change})


def test_a_decoder_trained_otherwise_is_replaced_only_with_overwrite(tiny, captions, image_captions, tmp_path, capsys):
    """The probe: `train-decoder --from other.txt ... --out DEC` over a finished decoder of other captions replaced it
    (exit 0). A decoder of other captions or settings is refused before any work; --overwrite replaces it. (The same
    training resumes: test_a_budget_stops_training_and_the_same_call_resumes_it.)"""
    import shutil

    from unembed.cli import main

    out = tmp_path / "dec"
    shutil.copytree(tiny.path, out)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    other = tmp_path / "other.txt"
    other.write_text("\n".join(image_captions[100:400]) + "\n", encoding="utf-8")
    flags = ["--width", "32", "--layers", "1", "--heads", "2", "--prefix", "2", "--context", "24", "--vocab", "400",
             "--batch", "16", "--warmup", "5", "--validation", "20"]
    assert main(["train-decoder", "--from", str(other), str(captions), "--out", str(out), "--epochs", "2", *flags]) == 2
    error = capsys.readouterr().err
    assert f"--out {out} holds a finished decoder trained otherwise" in error and "other captions, from" in error
    assert "--overwrite" in error and "Traceback" not in error
    assert main(["train-decoder", "--from", str(captions), "--out", str(out), "--epochs", "3", *flags]) == 2
    assert "(its --epochs 2)" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before  # nothing embedded or written
    assert main(["train-decoder", "--from", str(other), "--out", str(out), "--epochs", "1", *flags, "--overwrite"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["sources"] == [str(other)] and config["settings"]["epochs"] == 1
