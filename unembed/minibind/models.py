"""MiniBind's two small encoders. Both end in MiniLM's 384-d space as unit vectors.

The audio encoder reads a log-mel spectrogram (torchaudio) on a fixed dB scale — no per-clip
normalisation — because loudness is part of the meaning.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import safetensors.torch
import torch
import torchaudio
from torch import nn
from torch.nn import functional as F

from .. import atomic
from .world import IMAGE_SIZE, SAMPLE_RATE

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE = "minibind.safetensors"
CONFIG_FILE = "config.json"


def _conv_stack(in_channels: int, channels: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for out_channels in channels:
        layers += [
            nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
        in_channels = out_channels
    return nn.Sequential(*layers)


@dataclass
class EncoderConfig:
    dim: int = 384
    channels: tuple[int, ...] = (24, 48, 96, 128)
    colour_channels: int = 0  # > 0: the image encoder adds a per-pixel colour stream
    audio_channels: tuple[int, ...] = (64, 128, 128)  # the audio encoder's convolutions over frequency
    rhythm_slots: int = 8  # soft selections of mel bands, each with its own pooled modulation spectrum
    rhythm_features: int = 16  # per slot; more capacity learned pitch-specific rhythms (worse on held-out sounds)
    # audio front end
    n_fft: int = 512
    hop_length: int = 320
    n_mels: int = 64
    db_offset: float = 20.0  # log-mel dB -> roughly [-2, 3] for the world's quiet..loud range: (dB + offset) / scale
    db_scale: float = 20.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> EncoderConfig:
        values = dict(values)
        values["channels"] = tuple(values["channels"])
        values["audio_channels"] = tuple(values["audio_channels"])
        return cls(**values)


class ImageEncoder(nn.Module):
    """(B, 3, 64, 64) float RGB in [0, 1] -> (B, dim) unit rows.

    The conv trunk keeps a 4x4 spatial grid to the end (flattened, not pooled) because position
    is part of the meaning. With `colour_channels`, a per-pixel colour stream (1x1 convs, then
    pooling to the same grid: it cannot see shape) is added, and training feeds the conv stream
    colour-permuted copies so that colour and shape add up instead of being memorised as pairs.
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.features = _conv_stack(3, config.channels)
        grid = IMAGE_SIZE // 2 ** len(config.channels)
        self.colour = None
        if config.colour_channels:
            self.colour = nn.Sequential(
                nn.Conv2d(3, config.colour_channels, 1),
                nn.ReLU(inplace=True),
                nn.Conv2d(config.colour_channels, config.colour_channels, 1),
                nn.ReLU(inplace=True),
                nn.AdaptiveAvgPool2d(grid),
            )
        self.trunk_size = (config.channels[-1] + config.colour_channels) * grid * grid
        self.head = nn.Linear(self.trunk_size, config.dim)  # linear: feature contributions add up

    def trunk(self, pixels: torch.Tensor, form_pixels: torch.Tensor | None = None) -> torch.Tensor:
        """Grid features; `form_pixels` (training only) feeds the conv stream a recoloured copy."""
        form = self.features(((pixels if form_pixels is None else form_pixels) - 0.5) / 0.25)
        if self.colour is None:
            return form.flatten(1)
        return torch.cat([form, self.colour((pixels - 0.5) / 0.25)], dim=1).flatten(1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.trunk(pixels)), dim=-1)


class LogMel(nn.Module):
    """16 kHz waveforms (B, samples) -> scaled log-mel (B, 1, n_mels, frames)."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE,
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            n_mels=config.n_mels,
            f_min=20.0,
            f_max=SAMPLE_RATE / 2,
        )
        self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=None)
        self.offset, self.scale = config.db_offset, config.db_scale

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        db = self.to_db(self.mel(waveforms) + 1e-10)
        return ((db + self.offset) / self.scale).unsqueeze(1)


class AudioEncoder(nn.Module):
    """(B, 32000) 16 kHz mono waveforms -> (B, dim) unit rows. `embed_features` skips the front end.

    Three readings of the log-mel, added up by a linear head, so that what sounds, how loud and how
    fast it repeats combine freely instead of being memorised as combinations (the held-out sounds
    are exactly such unseen combinations, e.g. a high bell ringing fast):
    - what: 1-d convolutions over the SHAPE of the clip's energy spectrum (log mean power per band,
      minus its maximum). The world RMS-normalises each sound, so this shape does not change with
      tempo. That is the point: a stream that can hear tempo learns it as part of the sound, and a
      bell heard only ringing slowly in training is then called slow whatever its rhythm.
    - how loud: the maximum of that energy spectrum.
    - how fast: `rhythm_slots` soft selections of bands (attention computed from the energy shape,
      so a slot follows a sound wherever its pitch puts it) each pool the bands' modulation spectra
      (|FFT| over time of each band's log-mel, 0.5-12.5 Hz). One small MLP shared by all slots reads
      the log of each pooled spectrum minus its mean: its shape over rates, not its depth, which
      grows with loudness. So a repetition rate reads the same at any pitch and level.
    Time shifts move no feature: only the modulation spectrum's phase moves, and it is dropped.
    """

    MODULATION_BINS = 25  # 0.5 .. 12.5 Hz at 50 frames per second
    LN_POWER = 2 * math.log(10)  # LogMel units (dB / 20) -> natural log of power

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.front_end = LogMel(config)
        layers: list[nn.Module] = []
        in_channels = 1
        for out_channels in config.audio_channels:
            layers += [nn.Conv1d(in_channels, out_channels, 5, stride=2, padding=2, bias=False), nn.BatchNorm1d(out_channels), nn.GELU()]
            in_channels = out_channels
        self.profile = nn.Sequential(*layers)
        self.attend = nn.Sequential(
            nn.Conv1d(1, 32, 5, padding=2),
            nn.GELU(),
            nn.Conv1d(32, 32, 5, padding=4, dilation=2),
            nn.GELU(),
            nn.Conv1d(32, config.rhythm_slots, 5, padding=2),
        )
        self.rhythm = nn.Sequential(nn.Linear(self.MODULATION_BINS, 48), nn.GELU(), nn.Linear(48, config.rhythm_features), nn.GELU())
        bands = -(-config.n_mels // 2 ** len(config.audio_channels))
        self.trunk_size = config.audio_channels[-1] * bands + config.rhythm_slots * config.rhythm_features + 1
        self.head = nn.Linear(self.trunk_size, config.dim)  # linear: feature contributions add up

    def trunk(self, log_mel: torch.Tensor) -> torch.Tensor:
        bands = log_mel[:, 0]  # (B, n_mels, frames)
        energy = torch.logsumexp(bands * self.LN_POWER, dim=2) / self.LN_POWER  # log mean power (+ a constant)
        level = energy.amax(dim=1, keepdim=True)
        shape = (energy - level)[:, None]
        what = self.profile(shape).flatten(1)
        attention = torch.softmax(self.attend(shape), dim=2)  # (B, slots, n_mels)
        modulation = torch.fft.rfft(bands - bands.mean(dim=2, keepdim=True), dim=2).abs()[:, :, 1 : 1 + self.MODULATION_BINS]
        pooled = torch.log(attention @ modulation + 1e-2)  # (B, slots, bins)
        rhythm = self.rhythm(pooled - pooled.mean(dim=2, keepdim=True)).flatten(1)
        return torch.cat([what, rhythm, level], dim=1)

    def embed_features(self, log_mel: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.trunk(log_mel)), dim=-1)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.embed_features(self.front_end(waveforms))


def save_weights(out_dir: Path, image: ImageEncoder, audio: AudioEncoder, config: EncoderConfig, report: dict) -> None:
    """Write weights, then config, each atomically; the mel front end is rebuilt from the config."""
    tensors = {f"image.{k}": v.contiguous() for k, v in image.state_dict().items()}
    tensors |= {f"audio.{k}": v.contiguous() for k, v in audio.state_dict().items() if not k.startswith("front_end.")}
    atomic.write_bytes(Path(out_dir) / WEIGHTS_FILE, safetensors.torch.save(tensors))
    atomic.write_json(Path(out_dir) / CONFIG_FILE, {"encoder": config.to_dict(), **report})


def load_weights(weights_dir: str | os.PathLike = WEIGHTS_DIR) -> tuple[ImageEncoder, AudioEncoder, dict]:
    """The trained encoders (eval mode) and the config/report JSON. The mel front end has no weights."""
    weights_dir = Path(weights_dir)
    config_json = json.loads((weights_dir / CONFIG_FILE).read_text())
    config = EncoderConfig.from_dict(config_json["encoder"])
    tensors = safetensors.torch.load_file(weights_dir / WEIGHTS_FILE)
    image, audio = ImageEncoder(config), AudioEncoder(config)
    image.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("image.")})
    audio.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("audio.")}, strict=False)
    stored = {k[6:] for k in tensors if k.startswith("audio.")}
    missing = set(audio.state_dict()) - stored - set(audio.front_end.state_dict(prefix="front_end."))
    if missing:
        raise KeyError(f"audio weights lack {sorted(missing)[:3]}")
    return image.eval(), audio.eval(), config_json
