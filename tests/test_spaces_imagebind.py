"""ImageBind space on the real ImageBind architecture (reduced `tiny` size, seeded random weights).

The reference preprocessing is imagebind/data.py from the installed package, run unchanged. Three
things stand between it and this environment, all bridged here and only here: pytorchvideo 0.1.5
imports torchvision.transforms.functional_tensor (renamed _functional_tensor in torchvision 0.17);
torchaudio 2.9's load needs torchcodec, replaced by the equivalent soundfile read; and the reference
passes sample_rate= to EncodedVideo.from_path, which pytorchvideo 0.1.5 does not accept (the git
version it was written against ignores it when, as here, audio is not decoded), so it is dropped.
"""

import http.server
import importlib.util
import sys

import numpy as np
import pytest
import soundfile
import torch

from helpers import file_server
from unembed import InputError, SpaceError, WeightsNotFoundError, load_space
from unembed.download import download_file
from unembed.spaces import imagebind as ib
from unembed.spaces.base import normalise_rows

if importlib.util.find_spec("imagebind") is None:
    pytest.skip("the imagebind extra is not installed: pip install -e '.[imagebind]'", allow_module_level=True)


@pytest.fixture(scope="module")
def space():
    return load_space("imagebind", random_weights=True, size="tiny", batch_size=2)


@pytest.fixture(scope="module")
def reference():
    """imagebind.data, the reference preprocessing, importable under torchvision 0.24 / torchaudio 2.9."""
    import torchaudio
    import torchvision.transforms._functional_tensor as renamed

    patch = pytest.MonkeyPatch()
    patch.setitem(sys.modules, "torchvision.transforms.functional_tensor", renamed)

    def soundfile_load(path):
        samples, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
        return torch.from_numpy(np.ascontiguousarray(samples.T)), sample_rate

    patch.setattr(torchaudio, "load", soundfile_load)
    try:
        import imagebind.data as data
        from pytorchvideo.data.encoded_video import EncodedVideo
    except ImportError as error:
        patch.undo()
        pytest.skip(f"the reference imagebind.data does not import here: {error}")
    from_path = EncodedVideo.from_path.__func__
    patch.setattr(data.EncodedVideo, "from_path", classmethod(lambda cls, path, sample_rate=None, **kw: from_path(cls, path, **kw)))
    yield data
    patch.undo()


def _tone(seconds, sample_rate, frequency=440.0, offset=0.0, seed=0):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * frequency * t) + 0.05 * noise + offset).astype(np.float32)


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory):
    """Recordings covering the reference's cases: long, overlapping clips, resampling, under 2 s."""
    folder = tmp_path_factory.mktemp("audio")
    cases = {
        "long_16k.wav": (9.0, 16000, "PCM_16"),
        "overlap_dc_16k.flac": (3.3, 16000, "PCM_16"),
        "resample_44k.wav": (4.1, 44100, "FLOAT"),
        "short_22k.wav": (1.2, 22050, "PCM_16"),
        "exact_2s_8k.wav": (2.0, 8000, "FLOAT"),
    }
    paths = []
    for index, (name, (seconds, rate, subtype)) in enumerate(cases.items()):
        path = folder / name
        soundfile.write(path, _tone(seconds, rate, 220 * (index + 1), offset=0.02 * index, seed=index), rate, subtype=subtype)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 256, (30, 45, 3)), np.ones((10, 10, 1))).astype(np.uint8)
    paths = []
    for name, image in {
        "wide.png": Image.fromarray(smooth),  # 300 x 450, downscaled
        "tall.jpg": Image.fromarray(smooth.transpose(1, 0, 2)),
        "small_grey.png": Image.fromarray(smooth[:100, :120, 0]),  # upscaled, one channel
        "rgba.png": Image.fromarray(np.dstack([smooth[:224, :300], np.full((224, 300), 128, np.uint8)])),
    }.items():
        image.save(folder / name)
        paths.append(folder / name)
    return paths


@pytest.fixture(scope="module")
def video_files(tmp_path_factory):
    """Landscape 12 s, portrait under 2 s, square at 24 fps: MPEG-4 files written with PyAV."""
    av = pytest.importorskip("av")
    folder = tmp_path_factory.mktemp("video")
    paths = []
    for name, frames, fps, width, height in (("wide.mp4", 120, 10, 320, 240), ("tall.mp4", 15, 10, 240, 320), ("square.avi", 73, 24, 256, 256)):
        base = np.kron(np.random.default_rng(frames).integers(0, 256, (height // 8, width // 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)
        with av.open(str(folder / name), "w") as container:
            stream = container.add_stream("mpeg4", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for index in range(frames):  # a pattern sliding right, so every clip sees different frames
                container.mux(stream.encode(av.VideoFrame.from_ndarray(np.roll(base, 3 * index, axis=1), format="rgb24")))
            container.mux(stream.encode())
        paths.append(folder / name)
    return paths


# --- preprocessing against the reference ---------------------------------------------------------


def test_image_preprocessing_matches_reference(reference, image_files):
    expected = reference.load_and_transform_vision_data([str(p) for p in image_files], "cpu")
    ours = ib.image_batch(image_files)
    assert ours.shape == expected.shape == (len(image_files), 3, 224, 224)
    assert (ours - expected).abs().max().item() < 1e-4


def test_audio_preprocessing_matches_reference(reference, audio_files):
    expected = reference.load_and_transform_audio_data([str(p) for p in audio_files], "cpu")
    ours = ib.audio_batch(audio_files)
    assert ours.shape == expected.shape == (len(audio_files), 3, 1, 128, 204)
    assert (ours - expected).abs().max().item() < 1e-4


def test_video_preprocessing_matches_reference(reference, video_files):
    expected = reference.load_and_transform_video_data([str(p) for p in video_files], "cpu")
    ours = ib.video_batch(video_files)
    assert ours.shape == expected.shape == (len(video_files), 15, 3, 2, 224, 224)
    assert (ours - expected).abs().max().item() < 1e-4


def test_text_tokens_match_reference(reference, space):
    texts = ["a dog barks", "", "x " * 100]  # empty, and one longer than the 77-token context
    expected = reference.load_and_transform_text(texts, "cpu")
    assert torch.equal(space.tokenize(texts), expected)


def test_embeddings_equal_the_model_on_reference_inputs(reference, space, image_files, audio_files, video_files):
    """Preprocess with the reference, run the model ourselves: the space must give the same rows."""
    model = space.model
    with torch.inference_mode():
        cases = {
            "video": (video_files, model({"vision": reference.load_and_transform_video_data([str(p) for p in video_files], "cpu")})["vision"]),
            "image": (image_files, model({"vision": reference.load_and_transform_vision_data([str(p) for p in image_files], "cpu")})["vision"]),
            "audio": (audio_files, model({"audio": reference.load_and_transform_audio_data([str(p) for p in audio_files], "cpu")})["audio"]),
            "text": (["a dog", "rain on a roof"], model({"text": reference.load_and_transform_text(["a dog", "rain on a roof"], "cpu")})["text"]),
        }
    for modality, (items, expected) in cases.items():
        np.testing.assert_allclose(space.embed(modality, items), normalise_rows(expected.numpy()), atol=1e-5)


# --- embeddings -----------------------------------------------------------------------------------


def test_rows_are_unit_length_although_the_model_scales_them(space, image_files, audio_files, video_files):
    with torch.inference_mode():
        raw_text = space.model({"text": space.tokenize(["a dog"])})["text"]
    assert abs(float(raw_text.norm()) - 1.0) > 0.5  # the model multiplies text by its logit scale
    for modality, items in (("text", ["a dog", "a cat"]), ("image", image_files), ("audio", audio_files), ("video", video_files)):
        vectors = space.embed(modality, items)
        assert vectors.dtype == np.float32 and vectors.shape == (len(items), space.dim)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batch_invariant_and_deterministic(space, image_files, audio_files, video_files):
    again = load_space(space.spec, batch_size=32)  # the spec rebuilds the same random weights
    cases = (("text", ["a dog", "a cat", "an engine", "rain"]), ("image", image_files), ("audio", audio_files), ("video", video_files))
    for modality, items in cases:
        batched = again.embed(modality, items)
        alone = np.concatenate([space.embed(modality, [item]) for item in items])
        np.testing.assert_allclose(batched, alone, atol=1e-5)
        assert np.abs(batched - batched[:1]).max() > 1e-3  # different inputs, different rows


def test_random_spec_is_distinct_and_seeded(space):
    assert space.spec == "imagebind:random-tiny-seed0" and space.spec != "imagebind"
    other = load_space("imagebind:random-tiny-seed1")
    assert other.spec == "imagebind:random-tiny-seed1"
    assert np.abs(other.embed_text(["a dog"]) - space.embed_text(["a dog"])).max() > 1e-2
    with pytest.raises(SpaceError, match="seed only applies"):
        load_space("imagebind:tiny-seed3")
    with pytest.raises(SpaceError, match="cannot read the imagebind argument"):
        load_space("imagebind:enormous")


def test_bfloat16_autocast_stays_close_to_float32(space, image_files):
    half = load_space(space.spec, dtype="bfloat16")
    for modality, items in (("text", ["a dog", "a cat"]), ("image", image_files[:2])):
        low, full = half.embed(modality, items), space.embed(modality, items)
        np.testing.assert_allclose(np.linalg.norm(low, axis=1), 1.0, atol=1e-5)
        assert np.min(np.sum(low * full, axis=1)) > 0.98


# --- inputs the reference cannot take, or that it treats specially --------------------------------


def test_audio_edge_cases_embed_without_crashing(space):
    rate = 16000
    tone = _tone(3.0, rate)
    cases = {
        "under 400 samples": (tone[:100], rate),
        "1 ms, the shortest unembed takes": (tone[: rate // 1000], rate),
        "under 2 s": (tone[: rate // 2], rate),
        "silence": (np.zeros(rate * 3, np.float32), rate),
        "8 kHz": (_tone(3.0, 8000), 8000),
        "48 kHz stereo, frames first": (np.stack([_tone(3.0, 48000), _tone(3.0, 48000, 330)], axis=1), 48000),
    }
    vectors = space.embed("audio", list(cases.values()))
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # A recording under one fbank window is padded with silence to one window.
    np.testing.assert_allclose(
        ib.audio_clips(tone[:100], rate),
        ib.audio_clips(np.concatenate([tone[:100], np.zeros(300, np.float32)]), rate),
    )


def test_channels_are_averaged_in_either_orientation(space):
    left, right = _tone(2.5, 16000, 300), _tone(2.5, 16000, 500, seed=1)
    mono = space.embed("audio", [((left + right) / 2, 16000)])
    channels_first = space.embed("audio", [(np.stack([left, right]), 16000)])
    frames_first = space.embed("audio", [(np.stack([left, right], axis=1), 16000)])
    np.testing.assert_allclose(channels_first, mono, atol=1e-5)
    np.testing.assert_allclose(frames_first, mono, atol=1e-5)


def test_audio_file_and_array_give_the_same_embedding(space, audio_files):
    samples, rate = soundfile.read(audio_files[2], dtype="float32")
    np.testing.assert_allclose(space.embed("audio", [audio_files[2]]), space.embed("audio", [(samples, rate)]), atol=1e-6)


def test_image_path_pil_and_array_give_the_same_embedding(space, image_files):
    from PIL import Image

    image = Image.open(image_files[0]).convert("RGB")
    array = np.asarray(image)
    vectors = space.embed("image", [image_files[0], image, array, array / 255.0])
    np.testing.assert_allclose(vectors, np.repeat(vectors[:1], 4, axis=0), atol=1e-6)


@pytest.mark.parametrize(
    "modality, item, message",
    [
        ("audio", (np.zeros(0, np.float32), 16000), "no samples"),
        ("audio", (np.full(100, np.nan, np.float32), 16000), "NaN"),
        ("audio", (np.zeros(100, np.float32), 0), "sample rate"),
        ("audio", (np.zeros(100, np.float32), 16000.5), "sample rate"),
        ("audio", np.zeros(100, np.float32), "file path or a pair"),
        ("audio", "/no/such/file.wav", "does not exist"),
        ("image", np.zeros((3, 32, 32), np.uint8), "Channels go last"),
        ("image", np.full((8, 8, 3), 2.0), r"\[0, 1\]"),
        ("image", "/no/such/photo.png", "does not exist"),
        ("image", 42, "cannot use a int"),
        ("video", "/no/such/clip.mp4", "does not exist"),
        ("video", np.zeros((2, 8, 8, 3), np.uint8), "Pass a file path"),
    ],
)
def test_bad_inputs_raise_input_errors_that_say_the_fix(space, modality, item, message):
    with pytest.raises(InputError, match=message):
        space.embed(modality, [item])


def test_unreadable_files_raise_input_errors(space, tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all")
    with pytest.raises(InputError, match="cannot read"):
        space.embed("audio", [junk])
    with pytest.raises(InputError, match="cannot read"):
        space.embed("image", [junk])
    with pytest.raises(InputError, match="cannot read"):
        space.embed("video", [junk])
    with pytest.raises(InputError, match=r"\[item\]"):
        space.embed("image", str(junk))


def test_other_modalities_are_refused(space):
    with pytest.raises(SpaceError, match="cannot embed 'thermal'"):
        space.embed("thermal", ["scan.png"])


# --- weights --------------------------------------------------------------------------------------


@pytest.fixture
def no_weights_anywhere(tmp_path, monkeypatch):
    """An empty torch hub cache and working directory, and a download URL that refuses at once."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(ib.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv(ib.URL_ENV, "http://127.0.0.1:9/imagebind_huge.pth")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_offline_without_weights_says_where_to_put_them(no_weights_anywhere):
    expected_home = no_weights_anywhere / "torch" / "hub" / "checkpoints" / "imagebind_huge.pth"
    with pytest.raises(WeightsNotFoundError, match="downloading .* failed") as caught:
        load_space("imagebind")
    assert str(expected_home) in str(caught.value) and ib.WEIGHTS_ENV in str(caught.value)
    with pytest.raises(WeightsNotFoundError, match="not on this machine"):
        load_space("imagebind", download=False)
    with pytest.raises(WeightsNotFoundError, match="only huge was released"):
        load_space("imagebind:tiny")
    with pytest.raises(WeightsNotFoundError, match="do not exist"):
        load_space("imagebind", weights=no_weights_anywhere / "missing.pth")


def test_weights_load_from_option_environment_and_cache(no_weights_anywhere, monkeypatch, space):
    """A tiny checkpoint goes through the same lookup and weights_only loading as the released one."""
    checkpoint = no_weights_anywhere / "tiny.pth"
    torch.save(space.model.state_dict(), checkpoint)
    expected = space.embed_text(["a dog", "a cat"])

    from_option = load_space("imagebind:tiny", weights=checkpoint)
    assert from_option.spec == "imagebind:tiny"
    np.testing.assert_allclose(from_option.embed_text(["a dog", "a cat"]), expected, atol=1e-6)

    monkeypatch.setenv(ib.WEIGHTS_ENV, str(checkpoint))
    np.testing.assert_allclose(load_space("imagebind:tiny").embed_text(["a dog", "a cat"]), expected, atol=1e-6)
    monkeypatch.delenv(ib.WEIGHTS_ENV)

    cached = ib.default_checkpoint_path("tiny")
    cached.parent.mkdir(parents=True)
    checkpoint.rename(cached)
    np.testing.assert_allclose(load_space("imagebind:tiny").embed_text(["a dog", "a cat"]), expected, atol=1e-6)


class _NotATensor:
    pass


def test_bad_checkpoints_are_refused_with_the_fix(no_weights_anywhere, space):
    wrong_size = no_weights_anywhere / "wrong.pth"
    torch.save({"modality_heads.text.proj.1.weight": torch.zeros(3, 3)}, wrong_size)
    with pytest.raises(SpaceError, match="not an ImageBind-tiny checkpoint"):
        load_space("imagebind:tiny", weights=wrong_size)
    truncated = no_weights_anywhere / "truncated.pth"
    torch.save(space.model.state_dict(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:1000])
    with pytest.raises(SpaceError, match="partial download"):
        load_space("imagebind:tiny", weights=truncated)
    pickled_object = no_weights_anywhere / "object.pth"
    torch.save({"x": _NotATensor()}, pickled_object)  # weights_only refuses to unpickle it
    with pytest.raises(SpaceError, match="cannot read ImageBind weights"):
        load_space("imagebind:tiny", weights=pickled_object)


def test_download_writes_the_file_whole_and_restarts_a_partial_one(tmp_path):
    payload = np.random.default_rng(0).bytes(3_000_000)
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "weights.pth").write_bytes(payload)
    with file_server(tmp_path / "served") as base:
        url = f"{base}/weights.pth"
        target = tmp_path / "cache" / "weights.pth"
        download_file(url, target)
        assert target.read_bytes() == payload
        target.unlink()
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(b"stale bytes from another file")
        download_file(url, target)
        assert target.read_bytes() == payload and not partial.exists()


def test_a_dropped_download_keeps_its_partial_file_and_raises_os_error(tmp_path):
    class Dropping(http.server.BaseHTTPRequestHandler):  # promises 2000 bytes, sends 500, hangs up
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2000")
            self.end_headers()
            self.wfile.write(b"x" * 500)

        def log_message(self, *args):
            pass

    with file_server(tmp_path, Dropping) as base:
        target = tmp_path / "weights.pth"
        with pytest.raises(OSError, match="load again to resume"):
            download_file(f"{base}/w.pth", target)
        assert not target.exists() and (tmp_path / "weights.pth.partial").stat().st_size == 500


def test_clip_bounds_spread_three_two_second_clips():
    assert ib.clip_bounds(16000 * 8) == [(0, 32000), (32000, 64000), (64000, 96000)]
    assert ib.clip_bounds(16000) == [(0, 32000)] * 3  # shorter than a clip: the whole recording, thrice
