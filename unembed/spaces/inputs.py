"""What a space accepts as an image or a sound, and which modality a file holds.

One policy for every space that takes images or sounds:

Images: a file path, a PIL image, or an array or torch tensor (H, W), (H, W, 1|3|4) of uint8, or of
floats in [0, 1]. 16-bit (and 32-bit) greyscale pictures are scaled to 8 bits, not clipped. Channels go
last: a (3, H, W) array is refused with the transpose that fixes it, because a guess would silently swap
axes of arrays such as (3, 4, 4).
Audio: a file path (read with soundfile), or a pair (array or tensor, sample_rate) with the rate a
positive whole number of Hz (16000 or 16000.0). Arrays of floats (-1..1) or integer PCM (scaled
from their type's full range) may be 1-D (mono) or 2-D; in 2-D the shorter axis is taken as
channels (at most 8), so (channels, frames) from torchaudio and (frames, channels) from soundfile
both work. Channels are averaged to mono. Every sound, file or array, is checked against `AUDIO_LIMITS` (its
rate, length and number of samples, from a file's header before it is decoded), and `resample` changes its rate
with a kernel of bounded size whatever the two rates are.

`modality_of(path)` maps a file to "image", "audio" or "video" by its extension, so a command line
can pick the modality (and MILS's prompt for it) from the file alone.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError
from ..paths import is_file, refuse_special
from ..registry import require

MAX_AUDIO_CHANNELS = 8  # 7.1 surround; a wider 2-D array is more likely a spectrogram than a recording


@dataclass(frozen=True)
class AudioLimits:
    """What a sound may be: checked from a file's header, or an array's shape, before anything large is allocated."""

    # Below telephone quality a rate is a mistake: a 1 Hz header, or kHz given for Hz (16 for 16000).
    lowest_rate: int = 4_000
    # Studio converters and ultrasonic (bat) recorders go up to 384 kHz. A rate is cheap to resample whatever it is
    # (see `resample`); past this it is more likely a damaged or hostile header than a recording.
    highest_rate: int = 384_000
    # One period of a 1 kHz tone, 16 samples at the encoders' 16 kHz: shorter is a click with nothing to hear.
    shortest_seconds: float = 0.001
    # Ten minutes: the encoders read 2-s clips (ImageBind three of them), and decoding, averaging and resampling an
    # hour at 96 kHz took 7.4 GB. Cut a longer recording to the part to read.
    longest_seconds: float = 600.0
    # Decoded samples, all channels together: ten minutes of stereo at 48 kHz, 230 MB as float32. It also caps a short
    # header with many channels, or compressed silence (FLAC) that decodes to far more than its file size.
    samples: int = 600 * 48_000 * 2
    holder: str = "unembed"  # whose limits, as the messages name it ("this server")


AUDIO_LIMITS = AudioLimits()  # the library's and the command line's; `unembed serve` has narrower ones

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
# What the libsndfile bundled with the soundfile wheels decodes.
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"})
_MODALITY_BY_EXTENSION = (
    {extension: "image" for extension in IMAGE_EXTENSIONS}
    | {extension: "audio" for extension in AUDIO_EXTENSIONS}
    | {extension: "video" for extension in VIDEO_EXTENSIONS}
)


def modality_of(path: str | os.PathLike) -> str:
    """ "image", "audio" or "video", from the file's extension (case-insensitive)."""
    extension = Path(path).suffix.lower()
    modality = _MODALITY_BY_EXTENSION.get(extension)
    if modality is None:
        raise InputError(
            f"cannot tell what {str(path)!r} holds from its extension {extension or '(none)'!r}. "
            f"Known: images {', '.join(sorted(IMAGE_EXTENSIONS))}; audio {', '.join(sorted(AUDIO_EXTENSIONS))}; "
            f"video {', '.join(sorted(VIDEO_EXTENSIONS))}. Convert the file to one of these, or rename it if "
            "its extension is wrong."
        )
    return modality


def input_of(path: str | os.PathLike) -> tuple[str, Path]:
    """(modality, path) for an existing file: what `space.embed(modality, [path])` takes."""
    path = refuse_special(path)
    if os.path.isdir(path):
        raise InputError(
            f"{str(path)!r} is a folder, not a file: give one picture or sound in it. To invert every file of a folder, "
            f"give the folder to `unembed run` (e.g. `unembed run {path} --out predictions.parquet`), which takes folders."
        )
    modality = modality_of(path)
    if not is_file(path):
        raise InputError(f"{str(path)!r} does not exist or is not a file. Check the path.")
    return modality, path


def load_image(item: Any):
    """An RGB PIL image from a path, a PIL image or an array (see the module docstring)."""
    if isinstance(item, Image.Image):
        return _to_rgb(item)
    if isinstance(item, (str, os.PathLike)):
        refuse_special(item, "image file")
        try:
            with open(item, "rb") as file, warnings.catch_warnings():
                # PIL only warns between MAX_IMAGE_PIXELS and twice that (a 13,300 px square took 5 GB): refused too.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                return _to_rgb(Image.open(file))
        except FileNotFoundError as error:
            raise InputError(f"image file {str(item)!r} does not exist. Check the path.") from error
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            # PIL's guard against images that would take gigabytes to decode (see Image.MAX_IMAGE_PIXELS).
            raise InputError(
                f"{str(item)!r} is too large to decode safely ({error}). Downscale it first, e.g. to 4096 px "
                "on its long side: the encoders see 224-512 px anyway."
            ) from error
        except (UnidentifiedImageError, OSError) as error:
            raise InputError(
                f"cannot read {str(item)!r} as an image ({error}): the file is corrupt or not an image. Convert it to PNG or JPEG."
            ) from error
    item = _as_numpy(item)
    if isinstance(item, np.ndarray):
        return Image.fromarray(_image_array_to_uint8(item)).convert("RGB")
    raise InputError(f"cannot use a {type(item).__name__} as an image. Pass a file path, a PIL image or a numpy array (H, W, 3).")


# PIL's modes of one channel of more than 8 bits: 16-bit PNG and TIFF greyscale, 32-bit integer and float.
_WIDE_GREY = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _to_rgb(image: Image.Image) -> Image.Image:
    """An RGB image. PIL's own conversion clips wide greyscale to 0..255, so a 16-bit picture would turn almost white:
    its values are scaled to 8 bits instead, from the smallest of the ranges 0..1 (floats), 0..255 and 0..65535 that
    holds them (else from 0 to their maximum)."""
    if image.mode not in _WIDE_GREY:
        return image.convert("RGB")
    values = np.asarray(image, dtype=np.float64)
    if not np.isfinite(values).all():
        raise InputError("the image holds NaN or infinite values. Save it as an 8- or 16-bit PNG.")
    peak = float(values.max())
    ranges = ([1.0] if image.mode == "F" else []) + ([255.0] if image.mode in ("I", "F") else []) + [65535.0]
    top = next((each for each in ranges if peak <= each), peak)
    grey = np.round(np.clip(values, 0, top) / top * 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def _image_array_to_uint8(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))) or min(array.shape[:2]) == 0:
        raise InputError(
            f"an image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got shape {array.shape}. "
            "Channels go last: transpose a (3, H, W) array with array.transpose(1, 2, 0)."
        )
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating) or array.dtype == np.bool_:
        values = array.astype(np.float64)
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
            raise InputError("a float image array must hold finite values in [0, 1]. Scale it, or pass uint8 0..255.")
        return np.round(values * 255).astype(np.uint8)
    raise InputError(f"image arrays must be uint8 or float in [0, 1]; got {array.dtype}. Convert with .astype(np.uint8).")


def load_audio(item: Any) -> tuple[np.ndarray, int]:
    """(mono float32 samples, sample rate) from a path or an (array, sample_rate) pair; channels averaged.
    Its rate and length are checked against `AUDIO_LIMITS` first: a file's from its header, before it is decoded."""
    if isinstance(item, (str, os.PathLike)):
        soundfile = require("soundfile", extra="minibind", needed_by="reading audio files")
        refuse_special(item, "audio file")
        if not Path(item).is_file():
            raise InputError(f"audio file {str(item)!r} does not exist. Check the path.")
        try:
            with soundfile.SoundFile(str(item)) as sound:  # opened once: the header checked is the one decoded
                check_sound(sound.samplerate, sound.frames, sound.channels, repr(str(item)))
                samples, sample_rate = sound.read(dtype="float32", always_2d=True), sound.samplerate
                check_complete(Path(item), sound, len(samples), repr(str(item)))
        except InputError:
            raise
        except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
            raise InputError(
                f"cannot read {str(item)!r} as audio ({error}): the file is corrupt or not a sound libsndfile reads. "
                "Convert it to WAV or FLAC (e.g. `ffmpeg -i in.mp3 out.wav`)."
            ) from error
        return _mono(samples.T, str(item)), int(sample_rate)
    if isinstance(item, tuple) and len(item) == 2:
        array, sample_rate = item
        channels_first, rate = np.atleast_2d(_audio_array(array)), _sample_rate(sample_rate)
        check_sound(rate, channels_first.shape[1], channels_first.shape[0], "the audio array")
        return _mono(channels_first, "audio array"), rate
    raise InputError(f"cannot use a {type(item).__name__} as audio. Pass a file path or a pair (samples, sample_rate).")


def check_sound(rate: int, frames: int, channels: int, what: str, limits: AudioLimits = AUDIO_LIMITS) -> None:
    """Refuse a sound `what` (a file's name in quotes, "the audio array") whose rate, length or number of samples is
    outside `limits`. Takes what a header says, so that nothing is decoded or resampled before it is checked."""
    if not limits.lowest_rate <= rate <= limits.highest_rate:
        raise InputError(
            f"{what} is sampled at {rate:,} Hz; {limits.holder} takes {limits.lowest_rate:,}-{limits.highest_rate:,} Hz. "
            "Resample it (e.g. `ffmpeg -i in.wav -ar 16000 out.wav`); a rate is given in Hz (16000, not 16)."
        )
    seconds = frames / rate
    if seconds < limits.shortest_seconds:
        needed = math.ceil(limits.shortest_seconds * rate)
        held = "has no samples (it is empty)" if frames == 0 else f"holds only {frames} sample{'s' * (frames > 1)}"
        raise InputError(
            f"{what} {held}; {limits.holder} needs at least {limits.shortest_seconds * 1000:g} ms "
            f"({needed:,} samples at {rate:,} Hz). Pass a longer recording."
        )
    if seconds > limits.longest_seconds:
        raise InputError(
            f"{what} lasts {seconds:,.0f} s, longer than {limits.holder}'s limit of {limits.longest_seconds:g} s. "
            "Cut the part you want to read (e.g. `ffmpeg -i in.wav -t 60 out.wav`)."
        )
    if frames * channels > limits.samples:
        raise InputError(
            f"{what} holds {channels} channels of {frames:,} samples, more than {limits.holder} decodes "
            f"({limits.samples:,} samples in all). Mix it down to mono or stereo, or cut it."
        )


# A WAV data length of 2 GiB or more (0xFFFFFFFF, sox's 0x7FFFF000) is the placeholder a writer leaves when it cannot
# go back to fill in the length (a pipe, a stream): it means "to the end of the file", not a length the file lacks.
UNKNOWN_WAV_LENGTH = 0x7FFF_F000


def check_complete(path: Path, sound: Any, frames_read: int, what: str) -> None:
    """Refuse a sound cut short: its header says more samples than the file holds (a download or copy stopped early).

    libsndfile reads what is there and quietly shortens `frames` to it for WAV, so the WAV's own `data` length is
    compared with the bytes after it; for other formats, the frames decoded with the header's count."""
    frames, chunk = sound.frames, _wav_data_chunk(path)
    if chunk is not None:
        declared, present = chunk
        if declared <= present or declared >= UNKNOWN_WAV_LENGTH:
            return
        frames = declared * frames_read // present if present else declared  # present bytes hold frames_read frames
    if frames_read >= frames:
        return
    rate = sound.samplerate
    raise InputError(
        f"{what} is cut short: its header says {frames:,} samples ({frames / rate:.3g} s at {rate:,} Hz), but the file "
        f"holds only {frames_read:,} ({frames_read / rate:.3g} s). It was truncated (a copy or download that stopped): "
        "get the whole file again, or re-export what it holds (e.g. `ffmpeg -i in.wav out.wav`)."
    )


def _wav_data_chunk(path: Path) -> tuple[int, int] | None:
    """(bytes a RIFF/WAVE file's `data` chunk says it holds, bytes the file holds after that chunk's header); None for
    a file that is not a WAV, or whose `data` chunk is not found among its first chunks."""
    try:
        with open(path, "rb") as file:
            head = file.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
                return None
            for _ in range(64):  # fmt, fact, LIST, ... data: a WAV has a handful of chunks before its samples
                header = file.read(8)
                if len(header) < 8:
                    return None
                size = int.from_bytes(header[4:], "little")
                if header[:4] == b"data":
                    return size, os.fstat(file.fileno()).st_size - file.tell()
                file.seek(size + (size & 1), os.SEEK_CUR)  # chunks are padded to an even length
    except OSError:
        return None
    return None


# The largest numerator or denominator of the rate ratio given to torchaudio. Its sinc kernel holds about
# numerator x denominator taps, the rates divided by their gcd: 160 x 441 for 44,100 -> 16,000, but 16,000 x 44,101
# for 44,101 -> 16,000 (12.7 GB while it is built). The ratios of common rates (8-384 kHz to 16 kHz and back: at most
# 640 x 441) are within it, so they are resampled exactly as torchaudio does.
RESAMPLE_TERMS = 1_000
RESAMPLE_ERROR = 0.001  # the most an approximated ratio may be off: 0.1%, under 2 cents of pitch and tempo


def resample(waveform: Any, rate: int, new_rate: int) -> Any:
    """A torch `waveform` (..., time) at `rate` Hz, resampled to `new_rate` Hz by torchaudio, with a kernel of at most
    about RESAMPLE_TERMS^2 taps (4 MB as float32) whatever the two rates are."""
    import torchaudio

    ratio = Fraction(new_rate, rate)
    if max(ratio.numerator, ratio.denominator) > RESAMPLE_TERMS:
        # The ratio, or its inverse if that is the one under 1, becomes the nearest fraction whose denominator is at
        # most RESAMPLE_TERMS (its numerator is smaller still). From any rate within AUDIO_LIMITS to 16 kHz it is off by
        # 0.05% at most, less than ears tell apart: 44,101 Hz becomes 119/328 of itself, not 16000/44101, 0.0004% apart.
        under_one = min(ratio, 1 / ratio)
        near = under_one.limit_denominator(RESAMPLE_TERMS)
        if abs(near / under_one - 1) > RESAMPLE_ERROR:  # rates hundreds of times apart
            raise InputError(f"cannot resample {rate:,} Hz to {new_rate:,} Hz precisely. Resample it first, e.g. with ffmpeg.")
        rate, new_rate = (near.denominator, near.numerator) if ratio < 1 else (near.numerator, near.denominator)
    return torchaudio.functional.resample(waveform, rate, new_rate)


def _as_numpy(item: Any) -> Any:
    """A torch tensor as a numpy array (torch is imported only if the caller already has it); else `item`."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(item, torch.Tensor):
        return item.detach().cpu().numpy()
    return item


def _sample_rate(value: Any) -> int:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = -1.0
    if isinstance(value, bool) or not rate > 0 or not rate.is_integer():
        raise InputError(f"an audio sample rate must be a positive whole number of Hz; got {value!r}. Give e.g. 16000 or 44100.")
    return int(rate)


def _audio_array(array: Any) -> np.ndarray:
    """A 1-D or (channels, frames) float32 array from floats or integer PCM in any 1-D/2-D layout."""
    array = np.asarray(_as_numpy(array))
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / float(np.iinfo(array.dtype).max + 1)
    elif not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"an audio array has dtype {array.dtype}; give floats (-1..1) or integer PCM samples.")
    array = array.astype(np.float32, copy=False)
    if array.ndim not in (1, 2):
        raise InputError(f"an audio array must be 1-D or 2-D (channels x frames); got shape {array.shape}.")
    if array.ndim == 2 and array.shape[0] > array.shape[1]:
        array = array.T  # (frames, channels) as soundfile returns it
    if array.ndim == 2 and array.shape[0] > MAX_AUDIO_CHANNELS:
        raise InputError(
            f"an audio array of shape {array.shape}: neither axis looks like channels (<= {MAX_AUDIO_CHANNELS}). "
            "Give (frames,), (frames, channels) or (channels, frames)."
        )
    return array


# The loudest sample taken. Floats of a recording lie in -1..1 (beyond is clipped audio, by convention); a few times
# over is a hot recording, but 1e30 is not a sound, and overflows the encoders' float32 into NaN.
LOUDEST_SAMPLE = 1e3


def _mono(channels_first: np.ndarray, what: str) -> np.ndarray:
    if not np.isfinite(channels_first).all():
        raise InputError(f"{what} contains NaN or inf samples. Clean the recording first.")
    peak = float(np.abs(channels_first).max()) if channels_first.size else 0.0
    if peak > LOUDEST_SAMPLE:
        raise InputError(
            f"{what} holds samples as large as {peak:.3g}: a float recording lies in -1..1 (a little beyond is clipped "
            f"audio), and unembed takes at most ±{LOUDEST_SAMPLE:g}, so this is not a sound as saved. Scale it to -1..1, "
            "or check the program that wrote it."
        )
    return np.ascontiguousarray(channels_first.mean(axis=0, dtype=np.float32))
