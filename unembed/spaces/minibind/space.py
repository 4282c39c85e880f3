"""The `minibind` space: MiniLM for text, MiniBind's trained encoders for images and sounds.

Images: file paths, PIL images, or arrays (H, W), (H, W, 3|4) or (3|4, H, W), uint8 or float in
[0, 1]. They are converted to RGB (alpha dropped) and resized to 64x64 (aspect ratio not kept).

Audio: file paths (anything libsndfile reads: WAV, FLAC, OGG, ...) or `(array, sample_rate)`
pairs with array (samples,), (samples, channels) or (channels, samples) (the shorter axis, if at
most 8 long, is channels); int arrays are scaled from their full range. Channels are averaged to
mono and resampled to 16 kHz with torchaudio. Clips up to 2 s are zero-padded at the end; longer
clips are cut into ceil(length / 2 s) evenly spaced 2-s windows whose embeddings are averaged.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ...errors import InputError, SpaceError, WeightsNotFoundError
from ..base import Space, normalise_rows
from .. import inputs
from . import world

MAX_CHANNELS = 8


def _describe(item: Any) -> str:
    return repr(item) if isinstance(item, (str, Path)) else type(item).__name__


def load_image(item: Any) -> np.ndarray:
    """One image input -> (64, 64, 3) float32 RGB in [0, 1]."""
    from PIL import Image

    if isinstance(item, (str, os.PathLike)):
        item = inputs.load_image(item)
    if isinstance(item, Image.Image):
        item = item.convert("RGB")
        if item.size != (world.IMAGE_SIZE, world.IMAGE_SIZE):
            item = item.resize((world.IMAGE_SIZE, world.IMAGE_SIZE), Image.Resampling.BILINEAR)
        return np.asarray(item, dtype=np.float32) / 255.0
    if isinstance(item, torch.Tensor):
        item = item.detach().cpu().numpy()
    if not isinstance(item, np.ndarray):
        raise InputError(f"cannot embed {_describe(item)} as an image. Give a file path, a PIL image or an (H, W, 3) array.")
    array = item
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # channels first -> last
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (3, 4) or min(array.shape[:2]) == 0:
        raise InputError(f"image array has shape {array.shape}; give (H, W), (H, W, 3) or (H, W, 4).")
    array = array[..., :3]
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    elif np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
        if not np.isfinite(array).all():
            raise InputError("image array contains NaN or inf. Give finite pixel values.")
        if array.min() < -1e-3 or array.max() > 1 + 1e-3:
            raise InputError(
                f"float image values span [{array.min():.3g}, {array.max():.3g}] but must lie in [0, 1]. "
                "Divide 0..255 images by 255 (or pass them as uint8)."
            )
    else:
        raise InputError(f"image array has dtype {array.dtype}; give uint8 (0..255) or float (0..1).")
    image = Image.fromarray((np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8))
    return load_image(image)


def load_audio(item: Any) -> np.ndarray:
    """One audio input -> float32 mono waveform at 16 kHz (any length > 0)."""
    if isinstance(item, (str, os.PathLike)):
        samples, sample_rate = inputs.load_audio(item)  # mono
    elif isinstance(item, tuple) and len(item) == 2:
        samples, sample_rate = item
        if isinstance(samples, torch.Tensor):
            samples = samples.detach().cpu().numpy()
        samples = np.asarray(samples)
    else:
        raise InputError(
            f"cannot embed {_describe(item)} as audio. Give a file path or an (array, sample_rate) pair: "
            "a bare array has no sample rate."
        )
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        rate = -1.0
    if isinstance(sample_rate, bool) or rate <= 0 or not rate.is_integer():
        raise InputError(f"sample rate {sample_rate!r} is not a positive whole number of Hz. Give e.g. 16000 or 44100.")
    sample_rate = int(rate)
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    elif not np.issubdtype(samples.dtype, np.floating):
        raise InputError(f"audio array has dtype {samples.dtype}; give float (-1..1) or integer PCM samples.")
    if samples.ndim == 2:
        channel_axis = 0 if samples.shape[0] < samples.shape[1] else 1
        if samples.shape[channel_axis] > MAX_CHANNELS:
            raise InputError(
                f"audio array has shape {samples.shape}: neither axis looks like channels (<= {MAX_CHANNELS}). "
                "Give (samples,) or (samples, channels)."
            )
        samples = samples.mean(axis=channel_axis)
    if samples.ndim != 1:
        raise InputError(f"audio array has shape {samples.shape}; give (samples,), (samples, channels) or (channels, samples).")
    samples = samples.astype(np.float32)
    if samples.size == 0:
        raise InputError("audio is empty (0 samples). Give at least a few milliseconds of sound.")
    if not np.isfinite(samples).all():
        raise InputError("audio contains NaN or inf samples. Give finite sample values.")
    if sample_rate != world.SAMPLE_RATE:
        import torchaudio

        samples = torchaudio.functional.resample(torch.from_numpy(samples), sample_rate, world.SAMPLE_RATE).numpy()
        if samples.size == 0:
            raise InputError("audio is shorter than one sample at 16 kHz. Give a longer clip.")
    return samples


def audio_windows(samples: np.ndarray) -> np.ndarray:
    """(k, 32000) 2-s windows covering a 16 kHz clip: zero-padded if shorter, evenly spaced if longer."""
    clip = world.CLIP_SAMPLES
    if len(samples) <= clip:
        return np.pad(samples, (0, clip - len(samples)))[None]
    count = math.ceil(len(samples) / clip)
    starts = np.linspace(0, len(samples) - clip, count).round().astype(int)
    return np.stack([samples[start : start + clip] for start in starts])


class MiniBindSpace(Space):
    modalities = ("text", "image", "audio")

    def __init__(self, spec: str = "minibind", weights_dir: str | os.PathLike | None = None, *, batch_size: int = 128):
        from .. import load_space
        from .train import CONFIG_FILE, WEIGHTS_DIR, WEIGHTS_FILE, load_weights

        weights_dir = Path(weights_dir or WEIGHTS_DIR)
        if not (weights_dir / WEIGHTS_FILE).is_file() or not (weights_dir / CONFIG_FILE).is_file():
            raise WeightsNotFoundError(
                f"MiniBind weights not found in {weights_dir} (need {WEIGHTS_FILE} and {CONFIG_FILE}). "
                "Reinstall unembed (they ship with it) or train them: python -m unembed.spaces.minibind.train --out DIR."
            )
        try:
            self.image_encoder, self.audio_encoder, self.info = load_weights(weights_dir)
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise WeightsNotFoundError(
                f"MiniBind weights in {weights_dir} cannot be loaded ({error}). Retrain them with "
                "python -m unembed.spaces.minibind.train --out DIR, or reinstall unembed."
            ) from error
        self.spec = spec
        self.text_space = load_space(self.info.get("text_space", "minilm"))
        self.dim = self.text_space.dim
        self.batch_size = batch_size

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        return self.text_space.embed_text(texts)

    def _embed_modality(self, modality: str, items: Sequence[Any]) -> np.ndarray:
        if isinstance(items, (str, os.PathLike)) or (modality == "audio" and isinstance(items, tuple)):
            raise InputError(f"embed('{modality}', items) takes a list of inputs; wrap a single one in a list: [item].")
        items = list(items)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        if modality == "image":
            pixels = torch.from_numpy(np.stack([load_image(item) for item in items])).permute(0, 3, 1, 2)
            return self._run(self.image_encoder, pixels)
        windows = [audio_windows(load_audio(item)) for item in items]
        vectors = self._run(self.audio_encoder, torch.from_numpy(np.concatenate(windows)))
        owners = np.repeat(np.arange(len(items)), [len(w) for w in windows])
        sums = np.zeros((len(items), self.dim), dtype=np.float32)
        np.add.at(sums, owners, vectors)
        return normalise_rows(sums)

    def _run(self, encoder: torch.nn.Module, inputs: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            rows = [encoder(inputs[start : start + self.batch_size].contiguous()) for start in range(0, len(inputs), self.batch_size)]
        return normalise_rows(torch.cat(rows).numpy())


def load_minibind(argument: str = "", **options) -> MiniBindSpace:
    """`minibind` (the bundled weights) or `minibind:/folder/with/weights`."""
    for module in ("torchaudio", "soundfile", "PIL", "safetensors"):
        if importlib.util.find_spec(module) is None:
            raise SpaceError(f"space 'minibind' needs {module}, which is not installed. Install it with `pip install 'unembed[minibind]'`.")
    return MiniBindSpace(f"minibind:{argument}" if argument else "minibind", argument or None, **options)
