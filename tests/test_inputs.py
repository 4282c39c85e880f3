"""Every input path ends in the right result or a clear InputError: property tests on the parsers of
vectors, expression weights and bank manifests, and the odd files and numbers users hand in."""

import io
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import torch

from unembed import checks
from unembed.arithmetic import combine_vectors, parse_expression, vector
from unembed.errors import BankError, InputError, SpaceMismatchError
from unembed.explain import parse_features
from unembed.index import build_bank, collect_captions, load_bank
from unembed.inverter import InversionConfig
from unembed.registry import format_spec, parse_spec
from unembed.spaces.inputs import load_audio, load_image
from unembed.vectors import load_vectors, unit_rows

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 16), elements=st.floats(-1, 1, width=64)), st.integers(-300, 300))
def test_any_nonzero_finite_vector_keeps_its_direction_at_any_magnitude(direction, exponent):
    assume(np.abs(direction).max() > 1e-3)
    vector_ = direction * 10.0**exponent
    assume(np.isfinite(vector_).all() and np.abs(vector_).max() > 0)
    row = unit_rows(vector_)[0]
    expected = direction / np.linalg.norm(direction)
    assert row.dtype == np.float32 and math.isclose(float(np.linalg.norm(row)), 1.0, rel_tol=1e-5)
    assert float(row.astype(np.float64) @ expected) > 1 - 1e-5


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(width=64)))
def test_any_float_array_is_unit_rows_or_an_input_error(array):
    try:
        rows = unit_rows(array)
    except InputError as error:
        assert "NaN or inf" in str(error) or "all zero" in str(error)
        assert not np.isfinite(array).all() or not array.any()
    else:
        assert np.isfinite(rows).all() and math.isclose(float(np.linalg.norm(rows[0])), 1.0, rel_tol=1e-5)


@pytest.mark.parametrize(
    "value, problem",
    [
        (np.array(["a", "b"]), "real numbers"),
        (np.array([1 + 2j, 3j]), "real numbers"),
        (np.array([True, False]), "real numbers"),
        ([[1.0, 2.0], [3.0]], "rectangular"),
        (None, "real numbers"),
        (np.zeros((0, 3)), "shape"),
        (np.zeros((2, 0)), "shape"),
    ],
)
def test_values_that_are_not_vectors_are_named(value, problem):
    with pytest.raises(InputError, match=problem):
        unit_rows(value)


def test_vector_files_that_are_not_one_npy_array_are_named(tmp_path):
    np.savez(tmp_path / "both.npz", a=np.ones(4), b=np.ones(4))
    np.save(tmp_path / "words.npy", np.array(["a", "b"]))
    (tmp_path / "folder.npy").mkdir()
    (tmp_path / "text.npy").write_text("not numpy")
    for name, problem in [
        ("both.npz", "npz archive.*a, b"),
        ("words.npy", "not numbers"),
        ("folder.npy", "is a folder"),
        ("text.npy", "is not a .npy file \\(it does not start as numpy.save writes one\\)"),
        ("missing.npy", "no such vector file"),
    ]:
        with pytest.raises(InputError, match=problem):
            load_vectors(tmp_path / name)


@settings(max_examples=200, deadline=None)
@given(finite.filter(lambda w: w != 0))
def test_any_float_literal_is_a_weight(weight):
    if abs(weight) < sys.float_info.min:  # subnormal: too small to weigh anything beside another term
        with pytest.raises(InputError, match="too small to weigh anything"):
            parse_expression([f"{abs(weight)!r}*red"])
        return
    [term] = parse_expression([f"{abs(weight)!r}*red"])
    assert term.modality == "text" and term.item == "red" and term.weight == abs(weight)


@pytest.mark.parametrize("token", ["nan*red", "inf*red", "-inf*red", "1e400*red", "0*red", "0.0*red", "infinity*red"])
def test_weights_that_are_not_finite_and_non_zero_are_refused(token):
    with pytest.raises(InputError, match="weight"):
        parse_expression([token])


@pytest.mark.parametrize("token, weight", [("2.*red", 2.0), (".5*red", 0.5), ("1_000*red", 1000.0), ("1E3*red", 1000.0)])
def test_float_literals_python_reads_are_weights(token, weight):
    assert parse_expression([token])[0].weight == weight


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=6))
def test_any_tokens_parse_or_raise_an_input_error(tokens):
    try:
        terms = parse_expression(tokens)
    except InputError:
        return
    assert terms and all(math.isfinite(term.weight) and term.weight != 0 for term in terms)


def test_huge_weights_and_vectors_keep_their_direction():
    first, second = np.eye(4)[0], np.eye(4)[1]
    combined = combine_vectors(np.stack([first, second]), [1e308, 1e308])
    assert np.allclose(combined, (first + second) / np.sqrt(2), atol=1e-6)
    assert np.allclose(combine_vectors(np.stack([first, second]), [1e-300, 2e-300]), (first + 2 * second) / np.sqrt(5), atol=1e-6)
    assert np.allclose(vector(np.eye(4)[2] * 1e30).item, np.eye(4)[2])
    assert np.allclose(vector(np.eye(4)[2] * 1e300).item, np.eye(4)[2])


@pytest.mark.parametrize(
    "settings_, problem",
    [
        (dict(steps=-1), "steps must be at least 0"),
        (dict(requested=0), "requested must be at least 1"),
        (dict(requested=-5), "requested must be at least 1"),
        (dict(keep=-1), "keep must be at least 1"),
        (dict(keep=0), "keep must be at least 1"),
        (dict(shown=0), "shown must be at least 1"),
        (dict(steps=2.5), "whole number"),
        (dict(keep=True), "whole number"),
        (dict(patience=0), "patience"),
        (dict(fluency_margin=float("nan")), "fluency_margin"),
        (dict(modality=["image"]), "modality"),
    ],
)
def test_inversion_counts_are_checked_not_defaulted(settings_, problem):
    with pytest.raises(InputError, match=problem):
        InversionConfig.resolve(space="minilm", generator="mutate", preferred_shown=None, **settings_)


def test_caption_files_lose_a_bom_and_binary_files_are_refused(tmp_path):
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffa dog on a beach\na cat\n".encode("utf-8"))
    assert collect_captions([bom]) == ["a dog on a beach", "a cat"]
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"a dog\n" + b"\x00" * 64)
    with pytest.raises(InputError, match="NUL bytes.*line 2"):
        collect_captions([nul])
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("a dog\n".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16"):
        collect_captions([utf16])
    with pytest.raises(InputError, match="NUL"):
        collect_captions(texts=["a\x00dog"])


def test_an_image_too_large_to_decode_is_an_input_error(tmp_path, monkeypatch):
    from PIL import Image

    Image.new("RGB", (64, 64)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # the real limit (~179 Mpx), scaled down to a small file
    with pytest.raises(InputError, match="too large to decode"):
        load_image(tmp_path / "big.png")


MANIFEST_KEYS = ["format", "space", "dim", "count", "index", "search_params", "texts_sha256", "files", "metric"]
any_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def small_bank(tmp_path_factory, minilm):
    out = tmp_path_factory.mktemp("manifest") / "bank"
    build_bank(texts=["a dog", "a cat", "a cow"], space=minilm, out=out)
    return out


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(MANIFEST_KEYS), any_json), st.booleans())
def test_any_manifest_loads_a_whole_bank_or_is_a_bank_error(small_bank, changes, keep_the_rest):
    manifest = json.loads((small_bank / "manifest.json").read_text())
    edited = {**manifest, **changes} if keep_the_rest else changes
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "bank"
        shutil.copytree(small_bank, copy)
        (copy / "manifest.json").write_text(json.dumps(edited))
        try:
            bank = load_bank(copy)
        except (BankError, SpaceMismatchError):
            return
    # Loaded: then it is the bank that was saved, whatever the edit touched.
    assert bank.texts == ["a dog", "a cat", "a cow"] and bank.index.ntotal == 3


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789-, x²", max_size=40), st.integers(1, 5000))
def test_any_feature_list_is_features_of_the_sae_or_an_input_error(text, count):
    try:
        numbers = parse_features(text, count)
    except InputError:
        return
    assert numbers and len(numbers) == len(set(numbers)) and all(0 <= number < count for number in numbers)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.text(max_size=5)))
def test_any_seed_is_one_every_generator_takes_or_an_input_error(value):
    try:
        seed = checks.seed(value)
    except InputError:
        return
    np.random.RandomState(seed)  # the narrowest: 0..2**32-1
    np.random.default_rng(seed)
    torch.Generator().manual_seed(seed)


spec_parts = st.text(alphabet=st.sampled_from("abc:,=+/.-_0123456789 \u00e9"), max_size=30) | st.builds(
    lambda name, key, digits: f"{name},{key}={digits}",
    st.sampled_from(["edit", "minilm", "st:/m"]),
    st.sampled_from(["beam", "k"]),
    st.text(alphabet="0123456789", min_size=1, max_size=6000),
)


@settings(max_examples=300, deadline=None)
@given(spec_parts)
def test_any_spec_parses_and_reads_back_or_is_an_input_error(spec):
    try:
        name, argument, options = parse_spec(spec)
    except InputError:
        return
    assert parse_spec(format_spec(name, argument, options)) == (name, argument, options)


def _wav_bytes() -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, np.sin(np.linspace(0, 440, 1600)).astype(np.float32), 16000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(0, 43), st.integers(0, 255), min_size=1, max_size=8))
def test_any_wav_header_is_read_within_its_limits_or_is_an_input_error(patches):
    data = bytearray(_wav_bytes())
    for offset, value in patches.items():
        data[offset] = value
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sound.wav"
        path.write_bytes(bytes(data))
        try:
            samples, rate = load_audio(path)
        except InputError:
            return
    assert 4_000 <= rate <= 384_000 and len(samples) >= math.ceil(0.001 * rate) and np.isfinite(samples).all()



def test_json_nested_past_the_parser_is_a_damaged_file_not_a_recursion_error(tmp_path, minilm, capsys):
    """The probe: `[[[[...` as a bank's manifest or a references file ended in a RecursionError traceback."""
    from unembed.cli import main

    deep = "[" * 100_000 + "]" * 100_000
    bank = tmp_path / "bank"
    build_bank(texts=["a dog", "a cat"], space=minilm, out=bank)
    (bank / "manifest.json").write_text(deep)
    with pytest.raises(BankError, match="nested too deeply"):
        load_bank(bank)
    (tmp_path / "refs.json").write_text(deep)
    assert main(["eval", str(bank), "--references", str(tmp_path / "refs.json")]) == 2
    assert "nested too deeply" in capsys.readouterr().err


@pytest.mark.parametrize("value", [1e10, 1e308])
def test_a_timeout_past_any_deadline_is_refused(value):
    with pytest.raises(InputError, match="at most 1e"):
        checks.seconds(value)


def test_a_blank_text_is_refused_not_inverted(capsys):
    from unembed.cli import main

    assert main(["invert", "--text", "   ", "--space", "minilm", "--generator", "mutate", "--steps", "1"]) == 2
    assert "--text is blank" in capsys.readouterr().err



def test_settings_that_would_run_for_hours_or_take_gigabytes_are_refused(tmp_path, minilm):
    """The probe: edit,beam=1e9 and --requested 100000000 ran past 60 s; efSearch=2000000000 took 16 GB to search 4
    captions; PQ384x24 died in FAISS with std::bad_alloc; a .npy header claiming 100 billion rows asked for 140 TiB."""
    from unembed.generators import GeneratorError, load_generator
    from unembed.index import Bank
    from unembed.index.bank import make_index

    with pytest.raises(GeneratorError, match="beam must be at most 10000"):
        load_generator("edit,beam=1000000000")
    bank = Bank.from_texts(["a dog", "a cat", "a cow"], minilm, index="HNSW32")
    with pytest.raises(InputError, match="efSearch=2000000000' must be a positive number up to 65,536"):
        bank.set_search_params("efSearch=2000000000")
    bank.set_search_params("efSearch=64")
    with pytest.raises(InputError, match="needs more memory than this machine has"):
        make_index(np.ones((4, 384), np.float32), "PQ384x24")
    np.save(tmp_path / "one.npy", np.ones((1, 384), np.float32))
    data = (tmp_path / "one.npy").read_bytes()
    header = data[:128].replace(b"(1, 384), }", b"(100000000000, 384), }")
    (tmp_path / "claims.npy").write_bytes(header + data[128 : 128 + 16])
    with pytest.raises(InputError, match="not a plain .npy float array"):
        load_vectors(tmp_path / "claims.npy")


def test_a_picture_past_pils_pixel_limit_is_refused_before_it_is_decoded(tmp_path):
    """The probe: a 373 KB 16-bit PNG of 13,300 x 13,300 px (between PIL's limit and twice it, where PIL only warns)
    took 5.3 GB to invert."""
    from PIL import Image

    Image.new("I;16", (13_300, 13_300), 1000).save(tmp_path / "wide.png")
    with pytest.raises(InputError, match="too large to decode safely"):
        load_image(tmp_path / "wide.png")


def test_an_output_of_a_kind_the_command_cannot_write_is_refused_before_the_run(tmp_path, capsys):
    """The probe: `--plot out.txt` failed after the whole run (its work lost); `--render out.jpg` wrote PNG bytes."""
    from unembed.cli import main

    assert main(["invert", "--text", "a red star", "--space", "minibind", "--steps", "1", "--plot", str(tmp_path / "out.txt")]) == 2
    assert "a plot is written as" in capsys.readouterr().err
    assert main(["arith", "red", "--space", "minibind", "--steps", "1", "--render", str(tmp_path / "out.jpg")]) == 2
    assert "--render writes a PNG" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_folder_that_is_not_a_model_is_a_space_error(tmp_path):
    from unembed import load_space
    from unembed.errors import SpaceError

    with pytest.raises(SpaceError, match="is not a sentence-transformers model"):
        load_space(f"st:{tmp_path}")
