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
both work. Channels are averaged to mono.

`modality_of(path)` maps a file to "image", "audio" or "video" by its extension, so a command line
can pick the modality (and MILS's prompt for it) from the file alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError
from ..paths import is_file, refuse_special
from ..registry import require

MAX_AUDIO_CHANNELS = 8  # 7.1 surround; a wider 2-D array is more likely a spectrogram than a recording

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
            with open(item, "rb") as file:
                return _to_rgb(Image.open(file))
        except FileNotFoundError as error:
            raise InputError(f"image file {str(item)!r} does not exist. Check the path.") from error
        except Image.DecompressionBombError as error:
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
    """(mono float32 samples, sample rate) from a path or an (array, sample_rate) pair; channels averaged."""
    if isinstance(item, (str, os.PathLike)):
        soundfile = require("soundfile", extra="minibind", needed_by="reading audio files")
        refuse_special(item, "audio file")
        if not Path(item).is_file():
            raise InputError(f"audio file {str(item)!r} does not exist. Check the path.")
        try:
            samples, sample_rate = soundfile.read(str(item), dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
            raise InputError(
                f"cannot read {str(item)!r} as audio ({error}): the file is corrupt or not a sound libsndfile reads. "
                "Convert it to WAV or FLAC (e.g. `ffmpeg -i in.mp3 out.wav`)."
            ) from error
        return _mono(samples.T, str(item)), int(sample_rate)
    if isinstance(item, tuple) and len(item) == 2:
        array, sample_rate = item
        return _mono(np.atleast_2d(_audio_array(array)), "audio array"), _sample_rate(sample_rate)
    raise InputError(f"cannot use a {type(item).__name__} as audio. Pass a file path or a pair (samples, sample_rate).")


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


def _mono(channels_first: np.ndarray, what: str) -> np.ndarray:
    if channels_first.shape[1] == 0:
        raise InputError(f"{what} has no samples (it is empty). Pass a recording at least a few milliseconds long.")
    if not np.isfinite(channels_first).all():
        raise InputError(f"{what} contains NaN or inf samples. Clean the recording first.")
    return np.ascontiguousarray(channels_first.mean(axis=0, dtype=np.float32))
