"""The `minibind` space: MiniLM for text, MiniBind's trained encoders for images and sounds.

Inputs follow the one policy of `unembed.spaces.inputs` (files, PIL images, channels-last arrays
and tensors; audio files or `(array, sample_rate)` pairs, float or integer PCM, any channel layout).
Images are converted to RGB (alpha dropped) and resized to 64x64 (aspect ratio not kept). Audio is
averaged to mono and resampled to 16 kHz with torchaudio (`inputs.resample`, bounded for any rate).
Clips up to 2 s are zero-padded at the end; longer clips are cut into ceil(length / 2 s) evenly spaced
2-s windows whose embeddings are averaged.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..errors import WeightsNotFoundError
from ..spaces import Space, inputs, load_space, normalise_rows
from . import world
from .models import CONFIG_FILE, WEIGHTS_DIR, WEIGHTS_FILE, load_weights

# What suits MiniBind: banks of its world's canonical captions (sources registered by unembed.minibind),
# and its world's renderer.
CAPTION_SOURCES = {"image": "minibind-image", "audio": "minibind-audio", "text": "minibind-image"}


def load_image(item: Any) -> np.ndarray:
    """One image input (see spaces.inputs) -> (64, 64, 3) float32 RGB in [0, 1]."""
    image = inputs.load_image(item)
    if image.size != (world.IMAGE_SIZE, world.IMAGE_SIZE):
        image = image.resize((world.IMAGE_SIZE, world.IMAGE_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32) / 255.0


def load_audio(item: Any) -> np.ndarray:
    """One audio input (see spaces.inputs, whose limits make it at least 16 samples at 16 kHz) -> float32 mono waveform
    at 16 kHz."""
    samples, sample_rate = inputs.load_audio(item)
    if sample_rate != world.SAMPLE_RATE:
        samples = inputs.resample(torch.from_numpy(samples), sample_rate, world.SAMPLE_RATE).numpy()
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
    caption_sources = CAPTION_SOURCES
    renderer = "minibind"
    # Its world's language is its bank's: `edit` keeps to it. The MiniLM decoder reads MiniBind's vectors too, but its
    # sentences outside that grammar outscore the canonical captions and lower grammatical accuracy (docs/guides/decoders.md).
    generator = "edit"

    def __init__(self, spec: str = "minibind", weights_dir: str | os.PathLike | None = None, *, batch_size: int = 128):
        weights_dir = Path(weights_dir or WEIGHTS_DIR)
        if not (weights_dir / WEIGHTS_FILE).is_file() or not (weights_dir / CONFIG_FILE).is_file():
            raise WeightsNotFoundError(
                f"MiniBind weights not found in {weights_dir} (need {WEIGHTS_FILE} and {CONFIG_FILE}). "
                "Reinstall unembed (they ship with it) or train them: python -m unembed.minibind.train --out DIR."
            )
        try:
            self.image_encoder, self.audio_encoder, self.info = load_weights(weights_dir)
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise WeightsNotFoundError(
                f"MiniBind weights in {weights_dir} cannot be loaded ({error}). Retrain them with "
                "python -m unembed.minibind.train --out DIR, or reinstall unembed."
            ) from error
        self.spec = spec
        self.text_space = load_space(self.info.get("text_space", "minilm"))
        self.dim = self.text_space.dim
        self.batch_size = batch_size

    @property
    def text_tower(self) -> str:
        return self.text_space.spec

    def _encode(self, modality: str, batch: list[Any]) -> np.ndarray:
        if modality == "text":
            return self.text_space.embed("text", batch)
        if modality == "image":
            pixels = torch.from_numpy(np.stack([load_image(item) for item in batch])).permute(0, 3, 1, 2)
            return self._run(self.image_encoder, pixels)
        # A long clip is several 2-s windows: their embeddings are averaged (summed, then normalised by embed).
        windows = [audio_windows(load_audio(item)) for item in batch]
        vectors = self._run(self.audio_encoder, torch.from_numpy(np.concatenate(windows)))
        owners = np.repeat(np.arange(len(batch)), [len(w) for w in windows])
        sums = np.zeros((len(batch), self.dim), dtype=np.float32)
        np.add.at(sums, owners, vectors)
        return sums

    def _run(self, encoder: torch.nn.Module, pixels_or_samples: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return normalise_rows(encoder(pixels_or_samples.contiguous()).numpy())


def load_minibind(argument: str = "", **options) -> MiniBindSpace:
    """`minibind` (the bundled weights) or `minibind:/folder/with/weights`."""
    return MiniBindSpace(f"minibind:{argument}" if argument else "minibind", argument or None, **options)
