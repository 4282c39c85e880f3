"""MiniBind: the procedural world, its parser, training, the committed weights, inputs, renderer, CLI."""

import io
import json
import os

import numpy as np
import pytest
import soundfile
from PIL import Image

from unembed.cli import main as cli_main
from unembed.errors import InputError, WeightsNotFoundError
from unembed.index import source_captions
from unembed.renderers import Renderer, load_renderer
from unembed.spaces import load_space
from unembed.minibind import world
from unembed.minibind import CaptionCache, family_candidates, retrieval_top1
from unembed.minibind.space import audio_windows, load_audio

# Seeds far from those training (0, 1) and its evaluation (1000) used: fresh scenes and renders.
FRESH_SEED = 424242


@pytest.fixture(scope="module")
def minibind():
    return load_space("minibind")


@pytest.fixture(scope="module")
def caption_cache(minibind, tmp_path_factory):
    """A private, initially empty cache: the tests embed their captions with the real MiniLM."""
    return CaptionCache(minibind, tmp_path_factory.mktemp("captions"))


def cosine(a, b):
    return float(np.dot(a.ravel(), b.ravel()))


# ------------------------------------------------------------------------------------------ world
def test_every_canonical_caption_parses_back_to_its_scene():
    for family in world.IMAGE_FAMILIES:
        for scene in world.all_image_scenes(family)[::7]:
            assert world.parse_image_text(world.caption(scene)) == scene
    for family in world.AUDIO_FAMILIES:
        for scene in world.all_audio_scenes(family):
            assert world.parse_audio_text(world.caption(scene)) == scene


def test_the_caption_grammar_writes_every_caption_and_none_of_the_scorer_hacks():
    assert all(world.in_grammar(world.caption(scene), modality) for modality in ("image", "audio") for scene in world.all_scenes(modality))
    assert world.in_grammar("loud low-pitched birds chirping slowly and a clock ticking slowly", "audio")
    for text, modality in [("a quiet low-pitched birds chirping slowly", "audio"), ("rain falling and rain falling", "audio"),
                           ("a brown star on the left and a red color", "image"), ("a large green circle in the left", "image"),
                           ("a small red and a green star on the right", "image")]:
        assert not world.in_grammar(text, modality), text


def test_grammar_paraphrases_vary_and_parse_back():
    rng = np.random.default_rng(FRESH_SEED)
    for kind in ("image", "audio"):
        for scene in world.sample_scenes(kind, 150, rng, held_out=False):
            variants = {world.paraphrase(scene, rng) for _ in range(6)}
            assert len(variants) >= 2, variants
            for text in variants:
                assert world.parse_text(text, kind) == scene, text


@pytest.mark.parametrize("text, expected", [
    ("The image shows a tiny crimson disc positioned on the left side of the frame, while it is raining.",
     world.ImageScene((world.ShapeObject("circle", "red", "left", "small"),), "rain")),
    ("On the right there's a big violet box. No rain.",
     world.ImageScene((world.ShapeObject("square", "purple", "right", "large"),), None)),
    ("blue star right side and to the left a pink heart",
     world.ImageScene((world.ShapeObject("heart", "pink", "left"), world.ShapeObject("star", "blue", "right")))),
    ("A green triangle to the left of an orange plus sign.",
     world.ImageScene((world.ShapeObject("triangle", "green", "left"), world.ShapeObject("cross", "orange", "right")))),
])
def test_parser_reads_free_text_like_an_llm_writes(text, expected):
    assert world.parse_image_text(text) == expected


def test_audio_parser_reads_free_text_and_drops_attributes_that_do_not_apply():
    parsed = world.parse_audio_text("Heavy rainfall, high-pitched (?), while a church bell chimes quickly in a deep tone, softly.")
    # Two sounds: loudness is not part of two-event scenes, so "heavy" and "softly" are dropped too.
    assert parsed == world.AudioScene((
        world.SoundEvent("rain", None),
        world.SoundEvent("bell", None, "low", "fast"),
    ))
    assert world.parse_audio_text("Some heavy rainfall, high-pitched (?).") == world.AudioScene((world.SoundEvent("rain", "loud"),))
    assert world.parse_audio_text("A church bell chimes quickly in a deep tone, softly.") == world.AudioScene(
        (world.SoundEvent("bell", "quiet", "low", "fast"),)
    )


def test_held_out_combinations_never_appear_in_training_samples():
    rng = np.random.default_rng(FRESH_SEED)
    for kind in ("image", "audio"):
        train = world.sample_scenes(kind, 400, rng, held_out=False)
        held = world.sample_scenes(kind, 400, rng, held_out=True)
        assert not any(world.is_held_out(s) for s in train)
        assert all(world.is_held_out(s) for s in held)
        assert {s.family for s in held} == {s.family for s in train}  # every family is evaluated
    pairs = {(o.colour, o.shape) for s in world.sample_scenes("image", 400, rng, held_out=False) for o in s.objects}
    assert not pairs & world.HELD_OUT_COLOUR_SHAPES


@pytest.mark.parametrize("modality", ["image", "audio"])
def test_open_world_caption_source_holds_every_trainable_scene_and_no_held_out_one(modality):
    every, open_world = source_captions(f"minibind-{modality}"), source_captions(f"minibind-{modality}:open-world")
    held_out = [world.caption(scene) for scene in world.all_scenes(modality) if world.is_held_out(scene)]
    assert held_out and not set(held_out) & set(open_world)
    assert set(open_world) | set(held_out) == set(every)
    with pytest.raises(InputError, match="open-world"):
        source_captions(f"minibind-{modality}:closed")


def test_rendering_is_deterministic_and_attributes_are_visible_and_audible():
    scene = world.ImageScene((world.ShapeObject("circle", "red", "left", "large"),))
    first = world.render_image(scene, np.random.default_rng(1))
    assert first.shape == (64, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, world.render_image(scene, np.random.default_rng(1)))
    red = (first[..., 0] > 170) & (first[..., 1] < 90)
    assert red[:, :32].sum() > 200 and red[:, 40:].sum() == 0  # a large red blob, on the left only

    def rms(loudness):
        return np.sqrt(np.mean(world.render_audio(world.AudioScene((world.SoundEvent("rain", loudness),)), np.random.default_rng(2)) ** 2))

    clip = world.render_audio(world.AudioScene((world.SoundEvent("clock", "loud", tempo="fast"),)), np.random.default_rng(3))
    assert clip.shape == (world.CLIP_SAMPLES,) and clip.dtype == np.float32 and np.isfinite(clip).all()
    assert rms("loud") > 4 * rms("quiet")


# --------------------------------------------------------------------------------------- training
@pytest.mark.slow
def test_training_smoke_run_lowers_the_loss_and_writes_loadable_weights(tmp_path):
    from unembed.minibind import train

    out = tmp_path / "weights"
    assert train.main(["--smoke", "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
    report = json.loads((out / "config.json").read_text())
    for kind in ("image", "audio"):
        losses = report[f"{kind}_training"]["epoch_losses"]
        assert losses[-1] < losses[0] * 0.95, (kind, losses)
    assert not list(out.glob(".*")), "no temporary files are left behind"
    space = load_space(f"minibind:{out}")
    vectors = space.embed("image", [np.zeros((64, 64, 3), np.uint8)])
    assert vectors.shape == (1, 384) and np.isclose(np.linalg.norm(vectors), 1)


def test_missing_weights_folder_names_the_fix(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="train"):
        load_space(f"minibind:{tmp_path}")


# --------------------------------------------------------------------- committed weights: semantics
def test_committed_weights_are_small_and_record_how_they_were_trained(minibind):
    from unembed.minibind.models import WEIGHTS_DIR, WEIGHTS_FILE

    assert (WEIGHTS_DIR / WEIGHTS_FILE).stat().st_size <= 10_000_000
    assert minibind.dim == 384 and minibind.modalities == ("text", "image", "audio")
    # The targets, as recorded by training on 400 fresh held-out samples each.
    assert minibind.info["image_heldout_retrieval"]["top1"] >= 0.95
    assert minibind.info["audio_heldout_retrieval"]["top1"] >= 0.90
    assert minibind.info["training_time"]["cpu_seconds"] > 0


def test_committed_image_encoder_retrieves_true_captions_of_fresh_held_out_scenes(minibind, caption_cache):
    rng = np.random.default_rng(FRESH_SEED)
    # Plain-background one-object scenes: the candidates are all 288 such captions.
    candidates_scenes = [s for s in world.all_image_scenes("one-object") if s.element is None]
    scenes = [candidates_scenes[i] for i in rng.permutation(len(candidates_scenes)) if world.is_held_out(candidates_scenes[i])][:30]
    vectors = minibind.embed("image", [world.render_image(scene, rng) for scene in scenes])
    texts = [world.caption(s) for s in candidates_scenes]
    result = retrieval_top1(vectors, scenes, {"one-object": (texts, caption_cache.embed(texts))})
    assert result["top1"] >= 0.9, result["errors"]  # chance: 1/288


def test_committed_audio_encoder_retrieves_true_captions_of_fresh_held_out_sounds(minibind, caption_cache):
    rng = np.random.default_rng(FRESH_SEED)
    scenes = world.sample_scenes("audio", 40, rng, held_out=True)
    vectors = minibind.embed("audio", [(world.render_audio(scene, rng), world.SAMPLE_RATE) for scene in scenes])
    result = retrieval_top1(vectors, scenes, family_candidates("audio", caption_cache.embed))
    assert result["top1"] >= 0.8, result["errors"]  # chance: 1/30 (one event) or 1/91 (two)


@pytest.mark.parametrize("event", [world.SoundEvent("bell", "quiet", "high", "fast"), world.SoundEvent("birds", "loud", "low", "slow")])
def test_committed_audio_encoder_hears_tempo_at_a_pitch_never_heard_with_it(minibind, caption_cache, event):
    """High bells rang only slowly in training and low birds chirped only fast; the tempo must still be heard."""
    assert world.is_held_out(world.AudioScene((event,)))
    rng = np.random.default_rng(FRESH_SEED)
    vectors = minibind.embed("audio", [(world.render_audio(world.AudioScene((event,)), rng), world.SAMPLE_RATE) for _ in range(10)])
    tempos = {tempo: world.caption(world.AudioScene((world.SoundEvent(event.kind, event.loudness, event.pitch, tempo),))) for tempo in world.TEMPOS}
    rows = caption_cache.embed([tempos["slow"], tempos["fast"]])
    heard = np.array(world.TEMPOS)[np.argmax(vectors @ rows.T, axis=1)]
    assert (heard == event.tempo).mean() >= 0.8, (tempos[event.tempo], heard)


# ------------------------------------------------------------------------------------------ inputs
@pytest.fixture(scope="module")
def bell():
    scene = world.AudioScene((world.SoundEvent("bell", "loud", "low", "slow"),))
    return world.render_audio(scene, np.random.default_rng(FRESH_SEED))


def resample_linear(wave, rate):
    times = np.arange(int(len(wave) * rate / world.SAMPLE_RATE)) / rate
    return np.interp(times, np.arange(len(wave)) / world.SAMPLE_RATE, wave).astype(np.float32)


def test_audio_of_any_rate_channel_layout_and_format_embeds_like_the_original(minibind, bell, tmp_path):
    reference = minibind.embed("audio", [(bell, 16000)])
    stereo_44k = np.stack([resample_linear(bell, 44100)] * 2, axis=1)
    soundfile.write(tmp_path / "bell.wav", stereo_44k, 44100, subtype="PCM_24")
    soundfile.write(tmp_path / "bell.flac", resample_linear(bell, 22050), 22050)
    variants = [
        str(tmp_path / "bell.wav"),
        tmp_path / "bell.flac",
        (stereo_44k.T.copy(), 44100),  # channels first
        ((resample_linear(bell, 22050) * 32767).astype(np.int16), 22050),
        (np.tile(bell[:, None], (1, 6)), 16000.0),  # 5.1 surround, float rate
        (np.concatenate([bell, bell, bell]), 16000),  # 6 s: three windows averaged
    ]
    vectors = minibind.embed("audio", variants)
    assert vectors.shape == (len(variants), 384)
    for variant, vector in zip(variants, vectors):
        assert cosine(vector, reference) > 0.9, type(variant)


def test_odd_lengths_are_padded_or_windowed(minibind, bell):
    assert audio_windows(np.ones(1, np.float32)).shape == (1, world.CLIP_SAMPLES)
    windows = audio_windows(np.arange(5 * world.SAMPLE_RATE + 7, dtype=np.float32))
    assert windows.shape == (3, world.CLIP_SAMPLES) and windows[0, 0] == 0 and windows[-1, -1] == 5 * world.SAMPLE_RATE + 6
    # 8 kHz telephone audio has nothing above 4 kHz, so only the plumbing is checked for it.
    vectors = minibind.embed("audio", [(bell[:16], 16000), (bell[:4801], 48000), (bell[: 16000 * 3 // 2 + 1], 16000), (bell[::2], 8000)])
    assert vectors.shape == (4, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("item, problem", [
    (np.zeros(100), "sample_rate"),
    ((np.zeros(100), 0), "positive whole number"),
    ((np.zeros(0), 16000), "empty"),
    ((np.full(100, np.nan), 16000), "NaN"),
    ((np.zeros((20, 20)), 16000), "channels"),
    ((np.array(["a"]), 16000), "dtype"),
])
def test_bad_audio_arrays_are_input_errors_that_say_what_to_do(item, problem):
    with pytest.raises(InputError, match=problem):
        load_audio(item)


def test_corrupt_and_missing_files_give_clear_errors(minibind, tmp_path):
    (tmp_path / "noise.wav").write_bytes(os.urandom(2000))
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(buffer, format="PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[:60])
    riff = io.BytesIO()
    soundfile.write(riff, np.zeros(1000), 16000, format="WAV")
    (tmp_path / "cut.wav").write_bytes(riff.getvalue()[:30])
    with pytest.raises(InputError, match="corrupt"):
        minibind.embed("audio", [tmp_path / "noise.wav"])
    with pytest.raises(InputError, match="corrupt"):
        minibind.embed("audio", [tmp_path / "cut.wav"])
    with pytest.raises(InputError, match="corrupt"):
        minibind.embed("image", [tmp_path / "cut.png"])
    with pytest.raises(InputError, match="does not exist"):
        minibind.embed("image", [tmp_path / "missing.png"])
    with pytest.raises(InputError, match="list"):
        minibind.embed("audio", str(tmp_path / "noise.wav"))


def test_image_inputs_of_every_kind_embed_like_the_original(minibind, tmp_path):
    scene = world.ImageScene((world.ShapeObject("star", "yellow", "right", "large"),), "birds")
    pixels = world.render_image(scene, np.random.default_rng(FRESH_SEED))
    Image.fromarray(pixels).save(tmp_path / "star.png")
    rgba = np.concatenate([pixels, np.full((64, 64, 1), 255, np.uint8)], axis=2)
    big = np.asarray(Image.fromarray(pixels).resize((192, 192), Image.Resampling.NEAREST))
    variants = [pixels, str(tmp_path / "star.png"), Image.fromarray(pixels), pixels / 255.0, rgba, big]
    vectors = minibind.embed("image", variants)
    for vector in vectors[1:]:
        assert cosine(vector, vectors[0]) > 0.95
    grey = minibind.embed("image", [pixels.mean(axis=2).astype(np.uint8)])
    assert grey.shape == (1, 384)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        minibind.embed("image", [pixels.astype(np.float32)])
    with pytest.raises(InputError, match="Channels go last"):  # one policy with every space (spaces.inputs)
        minibind.embed("image", [pixels.transpose(2, 0, 1)])


# ---------------------------------------------------------------------------------------- renderer
def test_renderer_draws_free_text_that_minibind_reads_back(minibind, caption_cache):
    renderer = load_renderer("minibind")
    assert isinstance(renderer, Renderer)
    text = "Picture this: a huge brown heart, centered, with lightning in the sky"
    picture = renderer.render(text, seed=5)
    assert picture.size == (64, 64) and picture.mode == "RGB"
    assert np.array_equal(np.asarray(picture), np.asarray(renderer.render(text, seed=5)))
    scene = renderer.interpret(text, seed=5)
    assert scene == world.ImageScene((world.ShapeObject("heart", "brown", "centre", "large"),), "lightning")
    candidates = [s for s in world.all_image_scenes("one-object") if s.element == "lightning"]
    texts = [world.caption(s) for s in candidates]
    result = retrieval_top1(minibind.embed("image", [picture]), [scene], {"one-object": (texts, caption_cache.embed(texts))})
    assert result["top1"] == 1.0, result["errors"]


def test_renderer_fills_what_the_text_leaves_open_and_refuses_text_it_cannot_draw():
    renderer = load_renderer("minibind")
    scene = renderer.interpret("a triangle", seed=3)
    (obj,) = scene.objects
    assert obj.shape == "triangle" and obj.position == "centre" and obj.colour in world.COLOURS and obj.size in world.SIZES
    with pytest.raises(InputError, match="names no shape"):
        renderer.render("a bowl of soup")


# --------------------------------------------------------------------------------------------- CLI
def test_cli_sample_writes_scenes_sounds_and_their_captions(tmp_path, capsys):
    assert cli_main(["minibind", "sample", "--out", str(tmp_path), "--n", "2", "--seed", "7"]) == 0
    entries = json.loads((tmp_path / "captions.json").read_text())
    assert [e["modality"] for e in entries] == ["image", "image", "audio", "audio"]
    for entry in entries:
        kind = entry["modality"]
        assert world.parse_text(entry["caption"], kind) == world.parse_text(entry["paraphrase"], kind)
        if kind == "image":
            assert Image.open(tmp_path / entry["file"]).size == (64, 64)
        else:
            samples, rate = soundfile.read(tmp_path / entry["file"])
            assert rate == 16000 and samples.shape == (world.CLIP_SAMPLES,)
    assert "captions.json" in capsys.readouterr().out
    assert cli_main(["minibind", "sample", "--out", str(tmp_path), "--n", "0"]) == 2


# ------------------------------------------------------------------------------------------- bench
@pytest.mark.slow
def test_bench_inverts_held_out_samples_with_the_mils_loop_and_scores_them_with_the_parser(tmp_path, caption_cache):
    out = tmp_path / "bench.json"
    assert cli_main(["bench", "minibind", "--n", "3", "--invert-n", "2", "--distractors", "0", "--generator", "mutate",
                     "--requested", "3", "--cache", str(caption_cache.path.parent), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for kind in ("image", "audio"):
        inversion = report[f"{kind}_inversion"]
        assert inversion["n"] == 2 and inversion["generator"] == "mutate" and inversion["steps"] == 1
        assert report[f"{kind}_inversion_accuracy"] == inversion["accuracy"] and 0 <= inversion["accuracy"] <= 1
        for truth, text in inversion["examples"]:
            assert world.is_held_out(world.parse_text(truth, kind)) and text


def test_cli_sample_replaces_only_what_an_earlier_sample_wrote(tmp_path, capsys):
    """The probe: `minibind sample --out mbx` replaced the user's own scene_000.png and captions.json without a word.
    Its captions.json marks each file it wrote; a later sample replaces those, and refuses others without --overwrite."""
    out = tmp_path / "mbx"
    out.mkdir()
    (out / "scene_000.png").write_bytes(b"my own picture")
    (out / "captions.json").write_text('[{"file": "scene_000.png", "caption": "my cat"}]')
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert cli_main(["minibind", "sample", "--out", str(out), "--n", "1", "--seed", "7"]) == 2
    error = capsys.readouterr().err
    assert "holds scene_000.png, captions.json, which unembed minibind sample did not write" in error
    assert "--overwrite" in error and "Traceback" not in error
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before  # nothing written, sound_000.wav neither
    # An earlier sample's own files are its to replace: the same folder, sampled again, with fewer files.
    assert cli_main(["minibind", "sample", "--out", str(tmp_path / "own"), "--n", "2", "--seed", "1"]) == 0
    assert cli_main(["minibind", "sample", "--out", str(tmp_path / "own"), "--n", "1", "--seed", "2"]) == 0
    entries = json.loads((tmp_path / "own" / "captions.json").read_text())
    assert [entry["file"] for entry in entries] == ["scene_000.png", "sound_000.wav"]
    assert all(entry["written_by"] == "unembed minibind sample" for entry in entries)
    # --overwrite replaces the user's files.
    assert cli_main(["minibind", "sample", "--out", str(out), "--n", "1", "--seed", "7", "--overwrite"]) == 0
    assert Image.open(out / "scene_000.png").size == (64, 64)
    assert [entry["file"] for entry in json.loads((out / "captions.json").read_text())] == ["scene_000.png", "sound_000.wav"]
