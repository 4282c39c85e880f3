"""What a page uploads, stored and checked before anything large is decoded: size in bytes, pixels, sample rate, length.

The command line trusts the files its user names; a web server does not trust what strangers send. Every upload is
copied into the job's own temporary folder under a name the server makes (only the extension is kept), its size is
capped while it is copied, and an image's format and pixel count or a sound's rate, length and channels are read
from the header before the space decodes it. Texts are capped in number and length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError
from ..registry import require
from ..spaces import Space, modality_of
from ..spaces.inputs import AudioLimits, check_sound
from ..vectors import load_vectors

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one upload may be. Defaults suit a page on a laptop: photos, short clips, embedding vectors."""

    upload_bytes: int = 20 * 1024 * 1024
    pixels: int = 40_000_000  # 40 megapixels: a large phone photo; the encoders see 64-512 px anyway
    audio_seconds: float = 600.0
    lowest_rate: int = 4_000  # below telephone quality, a recording is a mistake (a 1 Hz header)
    highest_rate: int = 192_000  # the highest rate recorders offer
    # Decoded samples, all channels together: 10 minutes of stereo at 48 kHz (230 MB as float32). Compressed silence
    # (FLAC) is small enough to pass the byte cap at any length and channel count: this caps what it decodes to.
    audio_samples: int = 600 * 48_000 * 2
    texts: int = 64  # texts in one group or term list
    text_chars: int = 1_000  # characters in one text

    def audio(self) -> AudioLimits:
        """The limits on sounds, as the library's one check takes them (the shortest sound is the library's)."""
        return AudioLimits(
            self.lowest_rate, self.highest_rate, longest_seconds=self.audio_seconds, samples=self.audio_samples, holder="this server"
        )


# What each image extension must hold: PIL picks a decoder by content, and a .png must not reach, say, Ghostscript.
IMAGE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".gif": "GIF",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def store(name: str, data: BinaryIO, folder: Path, index: int, limits: Limits) -> Path:
    """Copy an uploaded file into `folder`/INDEX/ under its name made safe, refusing it once it passes the byte cap."""
    extension = Path(name or "").suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", extension):
        raise InputError(
            f"the file {name!r} has no extension to tell what it holds. "
            "Upload an image (.png, .jpg), a sound (.wav, .flac) or a .npy vector."
        )
    # Only letters, digits, dots, dashes and underscores, in a folder of its own: no path, no clash, no hidden file.
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_")[:60] or "upload"
    path = folder / str(index) / f"{stem}{extension}"
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(path, "wb") as out:
        while chunk := data.read(_CHUNK):
            written += len(chunk)
            if written > limits.upload_bytes:
                limit = describe_size(limits.upload_bytes)
                raise InputError(f"{name!r} is larger than this server's upload limit of {limit}. Send a smaller file.")
            out.write(chunk)
    if written == 0:
        raise InputError(f"{name!r} is empty. Upload the file again.")
    return path


def check_upload(path: Path, name: str, limits: Limits) -> str:
    """What a stored upload holds ("vector", "image" or "audio"), checked against the limits without decoding it."""
    if path.suffix == ".npy":
        return "vector"
    try:
        modality = modality_of(path)
    except InputError:
        raise InputError(f"{name!r} is not an image, a sound or a .npy vector (by its extension). Upload one of those.") from None
    if modality == "image":
        check_image(path, name, limits)
    elif modality == "audio":
        check_audio(path, name, limits)
    else:
        raise InputError(f"{name!r} is a {modality} file; this page takes images, sounds and .npy vectors.")
    return modality


def embed_upload(path: Path, name: str, space: Space, limits: Limits) -> tuple[str, np.ndarray]:
    """(modality, vector) of a stored upload: a .npy vector as it is (modality "vector"), else the space's unit embedding."""
    modality = check_upload(path, name, limits)
    if modality == "vector":
        return modality, load_vectors(path)
    return modality, space.embed(modality, [path])[0]


def check_image(path: Path, name: str, limits: Limits) -> None:
    """Refuse an image that is not what its extension says, or whose header claims more pixels than the limit, before
    decoding it."""
    expected = IMAGE_FORMATS.get(path.suffix.lower())
    try:
        if expected is None:
            raise UnidentifiedImageError(f"no decoder for {path.suffix!r}")
        with Image.open(path, formats=[expected]) as image:
            width, height = image.size
    except Image.DecompressionBombError as error:
        # PIL refuses, from the header, a picture of more than twice its own limit: a valid image, only too large.
        claimed = re.search(r"\((\d+) pixels\)", str(error))
        size = f"claims {int(claimed.group(1)):,} pixels in its header" if claimed else "is larger than PIL decodes"
        raise InputError(_too_large(name, size, limits)) from error
    except (UnidentifiedImageError, OSError) as error:
        what = f"a {expected} image" if expected else "an image this server reads"
        raise InputError(f"{name!r} is not {what} ({error}). Upload a PNG or JPEG.") from error
    if width * height > limits.pixels:
        raise InputError(_too_large(name, f"is {width} x {height} pixels", limits))


def _too_large(name: str, size: str, limits: Limits) -> str:
    return (
        f"{name!r} {size}, more than this server's limit of {limits.pixels / 1e6:g} megapixels. "
        "Downscale it first: the encoders see at most a few hundred pixels a side."
    )


def check_audio(path: Path, name: str, limits: Limits) -> None:
    """Refuse a sound that is not one, or whose rate, length or samples are out of bounds, from its header."""
    soundfile = require("soundfile", extra="minibind", needed_by="reading uploaded sounds")
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise InputError(f"{name!r} is not a sound this server can read ({error}). Upload a WAV or FLAC recording.") from error
    check_sound(info.samplerate, info.frames, info.channels, repr(name), limits.audio())


def check_texts(texts: list[str], what: str, limits: Limits) -> list[str]:
    """`texts` stripped, empty ones dropped; refused when there are too many or one is too long."""
    kept = [text.strip() for text in texts if text.strip()]
    if len(kept) > limits.texts:
        raise InputError(f"{what} holds {len(kept)} texts; this server takes at most {limits.texts}. Give fewer.")
    for text in kept:
        if len(text) > limits.text_chars:
            raise InputError(f"a text in {what} is {len(text):,} characters long; this server takes at most {limits.text_chars:,}.")
    return kept


def describe_size(count: int) -> str:
    """A byte count as the limits are given (`--max-upload-mb`): 20 MB, 0.5 MB."""
    return f"{count / 1024 / 1024:.3g} MB"
