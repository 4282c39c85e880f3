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
