"""MiniBind's two small encoders. Both end in MiniLM's 384-d space as unit vectors.

The image encoder keeps a 4x4 spatial grid to the end (flattened, not pooled) because position
is part of the meaning. The audio encoder reads a log-mel spectrogram (torchaudio) with a fixed
dB scale — no per-clip normalisation — because loudness is part of the meaning too; it pools over
time (mean and max), keeping frequency, so pitch and onset density survive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torchaudio
from torch import nn
from torch.nn import functional as F

from .world import IMAGE_SIZE, SAMPLE_RATE


def _conv_stack(in_channels: int, channels: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for out_channels in channels:
        layers += [nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
        in_channels = out_channels
    return nn.Sequential(*layers)


@dataclass
class EncoderConfig:
    dim: int = 384
    channels: tuple[int, ...] = (24, 48, 96, 128)
    hidden: int = 256
    # audio front end
    n_fft: int = 512
    hop_length: int = 320
    n_mels: int = 64
    db_offset: float = 20.0  # log-mel dB -> roughly [-2, 3] for the world's quiet..loud range: (dB + offset) / scale
    db_scale: float = 20.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "EncoderConfig":
        values = dict(values)
        values["channels"] = tuple(values["channels"])
        return cls(**values)


class ImageEncoder(nn.Module):
    """(B, 3, 64, 64) float RGB in [0, 1] -> (B, dim) unit rows."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.features = _conv_stack(3, config.channels)
        grid = IMAGE_SIZE // 2 ** len(config.channels)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(config.channels[-1] * grid * grid, config.hidden), nn.ReLU(inplace=True), nn.Linear(config.hidden, config.dim)
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.features((pixels - 0.5) / 0.25)), dim=-1)


class LogMel(nn.Module):
    """16 kHz waveforms (B, samples) -> scaled log-mel (B, 1, n_mels, frames)."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=config.n_fft, hop_length=config.hop_length, n_mels=config.n_mels, f_min=20.0, f_max=SAMPLE_RATE / 2
        )
        self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=None)
        self.offset, self.scale = config.db_offset, config.db_scale

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        db = self.to_db(self.mel(waveforms) + 1e-10)
        return ((db + self.offset) / self.scale).unsqueeze(1)


class AudioEncoder(nn.Module):
    """(B, 32000) 16 kHz mono waveforms -> (B, dim) unit rows. `embed_features` skips the front end."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.front_end = LogMel(config)
        self.features = _conv_stack(1, config.channels)
        bands = -(-config.n_mels // 2 ** len(config.channels))
        self.head = nn.Sequential(
            nn.Linear(2 * config.channels[-1] * bands, config.hidden), nn.ReLU(inplace=True), nn.Linear(config.hidden, config.dim)
        )

    def embed_features(self, log_mel: torch.Tensor) -> torch.Tensor:
        grid = self.features(log_mel)  # (B, C, bands, frames)
        pooled = torch.cat([grid.mean(dim=3), grid.amax(dim=3)], dim=1).flatten(1)
        return F.normalize(self.head(pooled), dim=-1)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.embed_features(self.front_end(waveforms))
