"""File -> modality by extension, for the command line to pick a space modality and MILS prompt."""

import numpy as np
import pytest

from unembed import InputError
from unembed.spaces.inputs import input_of, load_audio, load_image, modality_of


@pytest.mark.parametrize(
    "name, modality",
    [("photo.jpg", "image"), ("Scan.PNG", "image"), ("x.webp", "image"), ("song.wav", "audio"), ("a.FLAC", "audio"),
     ("talk.mp3", "audio"), ("clip.mp4", "video"), ("dir.d/movie.MKV", "video")],
)
def test_modality_of_reads_the_extension(name, modality):
    assert modality_of(name) == modality


@pytest.mark.parametrize("name", ["notes.txt", "vector.npy", "README", "archive.tar.gz"])
def test_unknown_extensions_raise_an_input_error_listing_the_known_ones(name):
    with pytest.raises(InputError, match=r"Known: images .*\.jpg.*audio .*\.wav.*video .*\.mp4"):
        modality_of(name)


def test_input_of_checks_that_the_file_exists(tmp_path):
    photo = tmp_path / "photo.png"
    with pytest.raises(InputError, match="does not exist"):
        input_of(photo)
    photo.write_bytes(b"")
    assert input_of(photo) == ("image", photo)
    assert input_of(str(photo)) == ("image", photo)


def test_image_arrays_of_every_accepted_layout_become_rgb():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    for array in (grey, grey[:, :, None], np.dstack([grey] * 3), np.dstack([grey] * 4), grey / 255.0):
        image = load_image(array)
        assert image.mode == "RGB" and image.size == (4, 3)
        assert np.array_equal(np.asarray(image)[:, :, 0], grey)


def test_audio_from_files_and_arrays(tmp_path):
    import soundfile

    stereo = np.stack([np.linspace(-1, 1, 800), np.zeros(800)], axis=1).astype(np.float32)
    soundfile.write(tmp_path / "s.wav", stereo, 8000, subtype="FLOAT")
    samples, rate = load_audio(tmp_path / "s.wav")
    assert rate == 8000 and samples.shape == (800,) and samples.dtype == np.float32
    np.testing.assert_allclose(samples, stereo.mean(axis=1), atol=1e-7)
    from_array, _ = load_audio((stereo.T, 8000))
    np.testing.assert_array_equal(from_array, samples)


def test_16_bit_pictures_are_scaled_not_clipped(tmp_path):
    from PIL import Image

    from unembed.spaces.inputs import load_image

    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "ramp16.png")
    pixels = np.asarray(load_image(tmp_path / "ramp16.png"))
    assert pixels.shape == (64, 64, 3)
    assert abs(pixels[..., 0].mean() - 127.5) < 2  # clipped, nearly every pixel would be 255
    np.testing.assert_array_equal(pixels[..., 0], np.round(ramp / 65535 * 255).astype(np.uint8))
    floats = Image.fromarray(np.full((4, 4), 0.5, np.float32))
    assert np.asarray(load_image(floats))[0, 0, 0] == 128


# --- sounds: one check of rate and length before anything is decoded, and resampling bounded for any rate ---------


def tone(rate, seconds=1.0, frequency=440.0):
    return (0.3 * np.sin(2 * np.pi * frequency * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def write_wav(path, samples, rate, claimed_rate=None):
    """A real WAV written by soundfile; `claimed_rate` then overwrites the rate its header gives (bytes 24-27)."""
    import soundfile

    soundfile.write(path, samples, rate, subtype="PCM_16")
    if claimed_rate is not None:
        data = bytearray(path.read_bytes())
        assert data[24:28] == rate.to_bytes(4, "little")
        data[24:28] = claimed_rate.to_bytes(4, "little")
        path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def minibind():
    from unembed import load_space

    return load_space("minibind")


def test_a_header_claiming_2_31_hz_is_refused_from_the_header(tmp_path, minibind):
    from unembed.serve.uploads import Limits, check_audio

    path = write_wav(tmp_path / "fast.wav", tone(16000), 16000, claimed_rate=2**31 - 1)
    with pytest.raises(InputError, match=r"sampled at 2,147,483,647 Hz; unembed takes 4,000-384,000 Hz\. Resample it"):
        load_audio(path)
    with pytest.raises(InputError, match="2,147,483,647 Hz"):
        minibind.embed("audio", [path])
    with pytest.raises(InputError, match=r"'fast\.wav' is sampled at 2,147,483,647 Hz; this server takes 4,000-192,000 Hz"):
        check_audio(path, "fast.wav", Limits())


@pytest.mark.parametrize(
    ("samples", "rate", "message"),
    [
        (tone(16000)[:1], 16000, r"holds only 1 sample; unembed needs at least 1 ms \(16 samples at 16,000 Hz\)"),
        (tone(44100)[:44], 44100, r"holds only 44 samples; unembed needs at least 1 ms \(45 samples"),
        (np.zeros(16, np.float32), 1, "sampled at 1 Hz"),
        (np.zeros(160, np.float32), 400_000, "sampled at 400,000 Hz"),
    ],
)
def test_sounds_too_short_or_at_absurd_rates_are_refused_as_files_and_arrays(tmp_path, samples, rate, message):
    with pytest.raises(InputError, match=message):
        load_audio(write_wav(tmp_path / "bad.wav", samples, rate))
    with pytest.raises(InputError, match=message):
        load_audio((samples, rate))


@pytest.mark.parametrize(("rate", "message"), [(0, "positive whole number"), (1, "1 Hz"), (16, "16 Hz.*16000, not 16")])
def test_arrays_at_a_rate_of_0_or_1_hz_are_refused(rate, message):
    with pytest.raises(InputError, match=message):
        load_audio((tone(16000), rate))


def test_limits_name_the_sound_and_the_fix():
    from unembed.spaces.inputs import AudioLimits, check_sound

    check_sound(44100, 44100 * 600, 2, "'long.wav'")  # ten minutes of stereo: the library's most
    with pytest.raises(InputError, match=r"'long\.wav' lasts 601 s, longer than unembed's limit of 600 s\. Cut"):
        check_sound(16000, 16000 * 601, 1, "'long.wav'")
    with pytest.raises(InputError, match=r"holds 8 channels of 48,000 samples, more than this server decodes \(100,000 .*Mix it down"):
        check_sound(48000, 48000, 8, "'wide.wav'", AudioLimits(samples=100_000, holder="this server"))
    with pytest.raises(InputError, match="has no samples"):
        check_sound(16000, 0, 1, "'empty.wav'")


def test_any_rate_is_resampled_with_a_small_kernel_and_common_ones_exactly_as_torchaudio_does():
    import torch
    import torchaudio

    from unembed.spaces.inputs import resample

    for rate in (44100, 48000, 22050, 11025, 8000, 4000, 384000):
        waveform = torch.from_numpy(tone(rate, 0.25))
        assert torch.equal(resample(waveform, rate, 16000), torchaudio.functional.resample(waveform, rate, 16000))
    # 44,101 Hz is resampled by 119/328, not 16000/44101: a 440 Hz tone comes out 0.0004% faster, and otherwise as
    # exactly as torchaudio resamples 44,100 Hz (away from the edges, where the filter meets the ends).
    resampled = resample(torch.from_numpy(tone(44101)), 44101, 16000).numpy()
    assert resampled.shape == (16001,)
    faster = 0.3 * np.sin(2 * np.pi * 440 * np.arange(16001) / 16000 * (16000 / 44101) / (119 / 328))
    np.testing.assert_allclose(resampled[200:-200], faster[200:-200], atol=1e-4)
    with pytest.raises(InputError, match="cannot resample 1,000,000 Hz to 1 Hz precisely"):
        resample(torch.zeros(10), 1_000_000, 1)


def test_ordinary_rates_give_the_vector_they_gave_before(tmp_path, minibind):
    """What MiniBind embeds from a file is torchaudio's own resampling of it, as before the bound on resampling."""
    import soundfile
    import torch
    import torchaudio

    for rate in (44100, 48000, 22050, 16000):
        path = write_wav(tmp_path / f"{rate}.wav", tone(rate, 1.5), rate)
        samples = torch.from_numpy(soundfile.read(path, dtype="float32")[0])
        direct = samples if rate == 16000 else torchaudio.functional.resample(samples, rate, 16000)
        vectors = minibind.embed("audio", [path, (direct.numpy(), 16000)])
        np.testing.assert_array_equal(vectors[0], vectors[1])


# A fresh interpreter, so that its peak resident memory (ru_maxrss) before and after is the resampling's alone.
_MEASURE = """
import json, resource, sys, time
import numpy as np
from unembed import load_space
space = load_space("minibind")
usual = space.embed("audio", [sys.argv[1]])  # 44,100 Hz: loads the model and torchaudio
before, started = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
odd = space.embed("audio", [sys.argv[2]])  # 44,101 Hz: the kernel torchaudio builds for 16000/44101 is 12.7 GB
seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"megabytes": (after - before) / 1024, "seconds": seconds, "cosine": float(usual[0] @ odd[0])}))
"""


def test_a_44101_hz_recording_is_embedded_by_minibind_in_bounded_memory(tmp_path):
    import json
    import subprocess
    import sys

    usual = write_wav(tmp_path / "usual.wav", tone(44100), 44100)
    odd = write_wav(tmp_path / "odd.wav", tone(44101), 44101)
    run = subprocess.run([sys.executable, "-c", _MEASURE, str(usual), str(odd)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    measured = json.loads(run.stdout.splitlines()[-1])
    print(f"44,101 Hz, 1 s, embedded by MiniBind: {measured['megabytes']:.1f} MB more peak memory, {measured['seconds']:.3f} s")
    assert measured["megabytes"] < 500
    assert measured["cosine"] > 0.99  # the same tone, 1 Hz apart in rate, is heard as the same sound


def test_the_command_line_refuses_a_bad_sound_with_exit_status_2(tmp_path, capsys, monkeypatch):
    from unembed.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = write_wav(tmp_path / "click.wav", tone(16000)[:1], 16000)
    assert main(["invert", str(path), "--space", "minibind"]) == 2
    assert "click.wav' holds only 1 sample; unembed needs at least 1 ms" in capsys.readouterr().err


def test_a_sound_cut_short_of_its_header_is_refused_naming_what_it_holds(tmp_path, capsys, monkeypatch):
    """The probe: a WAV whose header says 2 s but whose file holds 28 samples was inverted without a word (libsndfile
    reads what is there). A length a writer could not fill in (0xFFFFFFFF, from a pipe) still reads to the end."""
    from unembed.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    whole = write_wav(tmp_path / "whole.wav", tone(16000, 2.0), 16000)
    (tmp_path / "cut.wav").write_bytes(whole.read_bytes()[:100])  # the 44-byte header, then 28 samples
    assert main(["invert", str(tmp_path / "cut.wav"), "--space", "minibind", "--steps", "0"]) == 2
    err = capsys.readouterr().err
    assert "cut.wav' is cut short: its header says 32,000 samples (2 s at 16,000 Hz), but the file holds only 28" in err
    streamed = bytearray(whole.read_bytes())
    streamed[4:8] = streamed[40:44] = (0xFFFFFFFF).to_bytes(4, "little")  # RIFF and data lengths left unknown
    (tmp_path / "streamed.wav").write_bytes(bytes(streamed))
    samples, rate = load_audio(tmp_path / "streamed.wav")
    assert rate == 16000 and len(samples) == 32000
    assert len(load_audio(whole)[0]) == 32000


def test_float_samples_far_past_full_scale_are_refused_naming_the_sound(tmp_path, capsys, monkeypatch):
    """The probe: a float WAV of 1e30 samples ended in "the embedding row(s) [0] contain NaN or inf"."""
    import soundfile

    from unembed.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    soundfile.write(tmp_path / "loud.wav", np.full(16000, 1e30, np.float32), 16000, subtype="FLOAT")
    assert main(["invert", str(tmp_path / "loud.wav"), "--space", "minibind", "--steps", "0"]) == 2
    err = capsys.readouterr().err
    assert "loud.wav holds samples as large as 1e+30" in err and "at most ±1000" in err and "NaN" not in err
    with pytest.raises(InputError, match="audio array holds samples as large as 2e"):
        load_audio((np.full(16000, -2e3, np.float32), 16000))
    soundfile.write(tmp_path / "hot.wav", np.full(16000, 1.5, np.float32), 16000, subtype="FLOAT")  # clipped, still audio
    assert np.abs(load_audio(tmp_path / "hot.wav")[0]).max() == 1.5


def test_a_folder_given_as_the_input_is_named_a_folder(tmp_path, capsys, monkeypatch):
    """The probe: `unembed invert media` said to rename the file, its extension being "(none)"."""
    from unembed.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "media").mkdir()
    assert main(["invert", str(tmp_path / "media"), "--space", "minibind", "--steps", "0"]) == 2
    err = capsys.readouterr().err
    assert "media' is a folder, not a file" in err and "`unembed run" in err and "extension" not in err
