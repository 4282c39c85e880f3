"""Cross-modal arithmetic on MiniBind (a trained image/audio/text space; MiniLM text) and the minibind renderer."""

import json
import re

import numpy as np
import pytest
import soundfile
from PIL import Image

from unembed.arithmetic import arith, combine, file, parse_expression, render_and_score, text, vector
from unembed.arithmetic.merge import rule_merges
from unembed.objectives.rendered import RenderedImageEmbedder
from unembed.cli import main
from unembed.errors import InputError, SpaceMismatchError
from unembed.index import Bank
from unembed.renderers import load_renderer
from unembed.spaces import load_space
from unembed.minibind import world


@pytest.fixture(scope="module")
def space():
    return load_space("minibind")


@pytest.fixture(scope="module")
def renderer():
    return load_renderer("minibind")


def write_scene(path, shape, colour, position="centre", size="large", seed=1):
    scene = world.ImageScene((world.ShapeObject(shape, colour, position, size),))
    Image.fromarray(world.render_image(scene, np.random.default_rng(seed))).save(path)
    return path


def write_sound(path, kind, loudness="loud", seed=1):
    scene = world.AudioScene((world.SoundEvent(kind, loudness),))
    soundfile.write(path, world.render_audio(scene, np.random.default_rng(seed)), world.SAMPLE_RATE)
    return path


@pytest.fixture(scope="module")
def red_circle(tmp_path_factory):
    return write_scene(tmp_path_factory.mktemp("media") / "red_circle.png", "circle", "red")


@pytest.fixture(scope="module")
def rain(tmp_path_factory):
    return write_sound(tmp_path_factory.mktemp("media") / "rain.wav", "rain")


@pytest.mark.slow
def test_red_circle_minus_red_plus_blue_inverts_to_a_blue_circle(space, renderer, red_circle):
    terms = parse_expression([str(red_circle), "-", "red", "+", "blue"])
    result = arith(terms, space=space, mode="embedding", steps=0)
    drawn = renderer.interpret(result.text)
    assert [(o.shape, o.colour) for o in drawn.objects] == [("circle", "blue")], result.text
    # The analogy moved the target: the plain picture's nearest caption stays red.
    plain = arith([file(red_circle)], space=space, mode="embedding", steps=0)
    assert renderer.interpret(plain.text).objects[0].colour == "red"


@pytest.mark.slow
def test_text_mode_analogy_is_checked_against_the_combination(space, renderer, red_circle):
    result = arith(parse_expression([str(red_circle), "-red", "+blue"]), space=space, mode="text", steps=0,
                   merge_generator="mutate")
    assert [(o.shape, o.colour) for o in renderer.interpret(result.text).objects] == [("circle", "blue")]
    scores = [score for score, _, _ in result.merge.candidates]
    assert result.score == max(scores) and scores == sorted(scores, reverse=True)
    assert result.parts[1:] == [(-1.0, "red"), (1.0, "blue")]


@pytest.mark.slow
def test_image_plus_sound_draws_the_object_in_the_sounds_scene(space, renderer, red_circle, rain):
    result = arith([file(red_circle), file(rain)], space=space, mode="text", steps=0, merge_generator="llama.cpp", merges=3)
    drawn = renderer.interpret(result.text)
    assert ("circle", "red") in [(o.shape, o.colour) for o in drawn.objects] and drawn.element == "rain", result.text
    sources = {source for _, _, source in result.merge.candidates}
    assert "llm" in sources and "join" in sources  # the LLM's merges compete with the rule-based joins


def test_combination_is_the_normalised_weighted_sum(space, red_circle, rain):
    image, sound = space.embed("image", [red_circle])[0], space.embed("audio", [rain])[0]
    combined = combine([file(red_circle), file(rain, 0.5)], space)
    expected = image + 0.5 * sound
    np.testing.assert_allclose(combined, expected / np.linalg.norm(expected), atol=1e-5)
    # A vector term and the file it came from are the same term.
    np.testing.assert_allclose(combine([vector(image, space="minibind"), file(rain, 0.5)], space), combined, atol=1e-5)


def test_parse_expression_reads_weights_signs_and_texts(red_circle):
    terms = parse_expression([str(red_circle), "-", "0.5*red", "+", "a blue sky"])
    assert [(t.weight, t.modality) for t in terms] == [(1.0, "image"), (-0.5, "text"), (1.0, "text")]
    assert terms[2].item == "a blue sky"
    assert [t.weight for t in parse_expression(["red", "\u2212blue", "\u2212", "green"])] == [1.0, -1.0, -1.0]  # U+2212
    assert [(t.item, t.modality) for t in parse_expression(["text:one.pgn", "+", "e.g.", "+", "Mr. Smith"])] == [
        ("one.pgn", "text"), ("e.g.", "text"), ("Mr. Smith", "text")]


@pytest.mark.parametrize(
    "tokens, error, words",
    [
        ([], InputError, "empty"),
        (["red", "-", "red"], InputError, "cancel"),
        (["red", "+"], InputError, "ends with an operator"),
        (["red", "+", "-", "blue"], InputError, "two operators"),
        (["red", "blue"], InputError, r"missing \+ or -"),
        (["missing.png"], InputError, "does not exist"),
        (["red", "+", "one.pgn"], InputError, "looks like a file name, but no such file exists.*text:one.pgn"),  # a typo, not a text
        (["red", "-", "media/rain"], InputError, "looks like a file name"),
        (["1/2*red"], InputError, r"the weight '1/2' in '1/2\*red' is not a number"),
        (["(0.5)*red"], InputError, "is not a number. Write it as one, e.g. 0.5"),
        (["0x10*red"], InputError, r"the weight '0x10' in '0x10\*red' is not a number.*e.g. 0.5\*red"),  # was the text "0x10*red"
        (["2**3*red"], InputError, r"the weight '2\*\*3' in '2\*\*3\*red' is not a number"),  # was 2*"*3*red"
        (["2*3*red"], InputError, r"the weight '2\*3' in '2\*3\*red' is not a number"),
        (["2*"], InputError, "a `\\*` with nothing on one side"),
        (["*red"], InputError, "a `\\*` with nothing on one side"),
        (["text:"], InputError, "a text term must have words"),
        # The probe: each was the text "0,5*dog" (etc.), answered without a word.
        (["0,5*dog", "+", "cat"], InputError, r"'0,5\*dog' has a `\*`, but not a number before it.*text:0,5\*dog"),
        (["red*0.5"], InputError, "not a number before it"),
        (["half*dog"], InputError, "not a number before it"),
        (["\u00b2*dog"], InputError, "not a number before it"),
        (["1e-320*dog", "+", "cat"], InputError, "too small to weigh anything"),  # subnormal: beside cat, a 0
    ],
)
def test_bad_expressions_say_what_to_fix(space, tokens, error, words):
    with pytest.raises(error, match=words):
        combine(parse_expression(tokens), space)


def test_a_term_that_exists_but_is_not_a_regular_file_is_refused_whatever_its_name(tmp_path, capsys, monkeypatch):
    """The probe: `arith fifo1 + red` took the FIFO fifo1 for the text "fifo1"; `arith /dev/zero + red` said "no such
    file exists"."""
    import os

    monkeypatch.chdir(tmp_path)
    os.mkfifo("fifo1")
    (tmp_path / "shapes").mkdir()
    for term, words in (("fifo1", "'fifo1' is not a regular file"), ("/dev/zero", "'/dev/zero' is not a regular file"),
                        ("shapes", "'shapes' is a folder, not a file.*text:shapes")):
        assert main(["arith", term, "+", "red", "--space", "minibind", "--steps", "0"]) == 2
        out, err = capsys.readouterr()
        assert re.search(words, err) and not out and "Traceback" not in err, err
    assert parse_expression(["text:fifo1"])[0].item == "fifo1"  # the text itself, as the message says


def test_a_weight_in_another_base_or_with_arithmetic_is_refused_by_the_command(capsys):
    for term in ("0x10*red", "2**3*red"):
        assert main(["arith", term, "--space", "minibind", "--steps", "0"]) == 2
        out, err = capsys.readouterr()
        assert "is not a number. Write it as one, e.g. 0.5*red" in err and not out


def test_arith_options_are_checked_before_the_inversion(tmp_path, capsys, monkeypatch):
    """The probe: --render-steps -1, --renderer diffusers:/nonexist and --json naming a folder were refused only after
    the inversion had run and printed its answer."""
    import unembed.cli.arith as command

    def never(*args, **kwargs):
        raise AssertionError("the inversion ran before the options were checked")

    monkeypatch.setattr(command, "arith", never)
    picture = str(tmp_path / "r.png")
    for options, words in (
        (["--render-steps", "-1", "--render", picture], "--render-steps must be at least 0; got -1"),
        (["--render", picture, "--renderer", f"diffusers:{tmp_path / 'nonexist'}"], "does not exist"),
        (["--renderer", "minibind"], "--renderer picks what draws the picture of --render"),
        (["--json", str(tmp_path)], "it is a folder; give a file name"),
    ):
        assert main(["arith", "red", "--space", "minibind", "--steps", "0", *options]) == 2, options
        out, err = capsys.readouterr()
        assert words in err and not out, (options, err)


def test_demo_checks_its_settings_before_writing_a_file(tmp_path, capsys):
    """The probe: `unembed demo --steps -1` wrote its picture and sound, then stopped at the first inversion."""
    assert main(["demo", "--steps", "-1", "--out", str(tmp_path / "demo")]) == 2
    assert "--steps must be at least 0; got -1" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_unknown_file_type_is_an_error(tmp_path):
    notes = tmp_path / "scene.xyz"
    notes.write_text("not a picture")
    with pytest.raises(InputError, match="cannot tell what"):
        parse_expression([str(notes)])


def test_terms_from_another_space_are_refused(space, red_circle):
    with pytest.raises(SpaceMismatchError, match="512-d vector"):
        combine([file(red_circle), vector(np.ones(512))], space)
    with pytest.raises(SpaceMismatchError, match="embedded in space 'imagebind'"):
        combine([file(red_circle), vector(np.ones(space.dim), space="imagebind")], space)


def test_text_mode_needs_something_added(space):
    with pytest.raises(InputError, match="positive weight"):
        arith([text("red", -1.0)], space=space, mode="text", steps=0)


def test_rule_merges_swap_and_join():
    merges = rule_merges([(1.0, "a small red circle on the left"), (-1.0, "red"), (1.0, "blue")])
    assert ("a small blue circle on the left", "swap") in merges
    assert ("a small circle on the left and blue", "join") in merges


def test_render_and_score_raises_the_rendered_pictures_cosine(space, renderer):
    truth = world.ImageScene((world.ShapeObject("square", "blue", "centre", "large"),), "rain")
    target = space.embed("image", [world.render_image(truth, np.random.default_rng(5))])[0]
    # No caption names the truth: the loop must recombine them, judged by their pictures.
    captions = ["a large blue circle in the centre", "a small red square on the left in the rain",
                "a large green triangle on the right", "a small yellow star in the centre under lightning"]
    bank = Bank.from_vectors(captions, space.embed_text(captions), space)
    result = render_and_score(target, space=space, renderer=renderer, bank=bank, generator="mutate",
                              steps=4, requested=30, patience=None, fluency=False)
    assert result.score > result.bootstrap_score + 0.02
    assert result.trajectory() == sorted(result.trajectory())
    # The score is the cosine of the target with the picture of the text, not with the text.
    picture = RenderedImageEmbedder(renderer, space)([result.text])[0]
    assert picture @ target == pytest.approx(result.score, abs=1e-5)


def test_undrawable_text_scores_zero(space, renderer):
    rows = RenderedImageEmbedder(renderer, space)(["a quiet afternoon", "a red circle"])
    assert not rows[0].any() and np.linalg.norm(rows[1]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
def test_cli_arith_renders_the_analogy(tmp_path, capsys, renderer, red_circle):
    out, report = tmp_path / "out.png", tmp_path / "arith.json"
    code = main(["arith", str(red_circle), "-", "red", "+", "blue", "--space", "minibind", "--steps", "0",
                 "--render", str(out), "--json", str(report)])
    assert code == 0
    data = json.loads(report.read_text())
    assert [(o.shape, o.colour) for o in renderer.interpret(data["render"]["prompt"]).objects] == [("circle", "blue")]
    assert Image.open(out).size == (256, 256)
    assert data["render"]["rendered_cosine"] > 0.5
    assert "blue circle" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_arith_reads_a_minus_glued_to_its_term(tmp_path, renderer, red_circle):
    """`-red` would be an unknown option to argparse; `--seed -1`-style option values stay as they are."""
    report = tmp_path / "arith.json"
    assert main(["arith", str(red_circle), "-red", "+blue", "--space", "minibind", "--steps", "0", "--json", str(report)]) == 0
    data = json.loads(report.read_text())
    assert [(o.shape, o.colour) for o in renderer.interpret(data["text"]).objects] == [("circle", "blue")]


def test_cli_arith_says_how_to_subtract_after_an_option(tmp_path, renderer, red_circle, capsys):
    """The probe: `-red` after an option was an unknown option to argparse, which answered "the following arguments
    are required: TERM" or "unrecognized arguments: -red + blue". The message now says how to write it, and both
    ways it offers read the subtraction."""
    import re
    import shlex

    report = tmp_path / "arith.json"
    options = ["--space", "minibind", "--steps", "0", "--json", str(report)]
    for argv in (["arith", *options, str(red_circle), "-red", "+blue"], ["arith", str(red_circle), *options, "-red", "+blue"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "'-red' after an option is read as an unknown option, not as minus 'red'" in err and "Traceback" not in err
        assert not report.exists()
    suggestions = re.findall(r"`(unembed arith [^`]*)`", err)
    assert len(suggestions) == 2 and " -- " in suggestions[1]
    for suggestion in suggestions:
        assert main(shlex.split(suggestion)[1:]) == 0
        data = json.loads(report.read_text())
        assert [(o.shape, o.colour) for o in renderer.interpret(data["text"]).objects] == [("circle", "blue")]
        report.unlink()
    assert main(["arith", "--seed", "1", "red", "+", "blue", "--space", "minibind", "--steps", "0"]) == 0  # values stay


def test_cli_arith_errors_exit_2(capsys):
    assert main(["arith", "red", "-", "red", "--space", "minibind", "--steps", "0"]) == 2
    assert "cancel out" in capsys.readouterr().err
    for seed in ("-1", "4294967296", "x"):  # every RNG takes 0..2**32-1: refused by argparse, not deep in numpy
        with pytest.raises(SystemExit) as exit:
            main(["arith", "red", "+", "blue", "--space", "minibind", "--render", "never.png", "--seed", seed])
        assert exit.value.code == 2 and f"{seed!r} is not a seed" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_writes_the_pictures_and_prints_the_texts(tmp_path, capsys, renderer):
    assert main(["demo", "--out", str(tmp_path), "--generator", "mutate", "--steps", "1", "--requested", "5"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "demo.json").read_text())
    for name in ("scene.png", "sound.wav", "text_mode.png", "embedding_mode.png"):
        assert (tmp_path / name).is_file()
    assert "text mode" in printed and "embedding mode" in printed
    # The loop is shown on its own first, from a bank that lacks the scene's caption.
    alone = report["open_world_inversion"]
    assert alone["history"][0]["best_text"] != report["truth"][0] and "the loop's answer" in printed
    drawn = renderer.interpret(report["results"]["text"]["text"])
    assert ("circle", "green") in [(o.shape, o.colour) for o in drawn.objects] and drawn.element == "rain"
