"""MiniBind's two small encoders. Both end in MiniLM's 384-d space as unit vectors.

The audio encoder reads a log-mel spectrogram (torchaudio) on a fixed dB scale — no per-clip
normalisation — because loudness is part of the meaning.
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
    colour_channels: int = 0  # > 0: the image encoder adds a per-pixel colour stream
    level_stream: bool = False  # the audio encoder adds per-band mean/peak energy
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
                nn.Conv2d(3, config.colour_channels, 1), nn.ReLU(inplace=True),
                nn.Conv2d(config.colour_channels, config.colour_channels, 1), nn.ReLU(inplace=True),
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
            sample_rate=SAMPLE_RATE, n_fft=config.n_fft, hop_length=config.hop_length, n_mels=config.n_mels, f_min=20.0, f_max=SAMPLE_RATE / 2
        )
        self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=None)
        self.offset, self.scale = config.db_offset, config.db_scale

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        db = self.to_db(self.mel(waveforms) + 1e-10)
        return ((db + self.offset) / self.scale).unsqueeze(1)


class AudioEncoder(nn.Module):
    """(B, 32000) 16 kHz mono waveforms -> (B, dim) unit rows. `embed_features` skips the front end.

    The conv trunk pools over time (mean and max) but keeps frequency, so pitch and onset density
    survive. With `level_stream`, the mean and peak energy of each mel band are added, and
    training feeds the conv stream copies at random gains, so that loudness adds up with what
    sounds instead of being memorised as pairs.
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.front_end = LogMel(config)
        self.features = _conv_stack(1, config.channels)
        bands = -(-config.n_mels // 2 ** len(config.channels))
        self.level_stream = config.level_stream
        self.trunk_size = 2 * config.channels[-1] * bands + (2 * config.n_mels if config.level_stream else 0)
        self.head = nn.Linear(self.trunk_size, config.dim)  # linear: feature contributions add up

    def trunk(self, log_mel: torch.Tensor, form_log_mel: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled features; `form_log_mel` (training only) feeds the conv stream a re-levelled copy."""
        grid = self.features(log_mel if form_log_mel is None else form_log_mel)  # (B, C, bands, frames)
        form = torch.cat([grid.mean(dim=3), grid.amax(dim=3)], dim=1).flatten(1)
        if not self.level_stream:
            return form
        return torch.cat([form, log_mel.mean(dim=3).flatten(1), log_mel.amax(dim=3).flatten(1)], dim=1)

    def embed_features(self, log_mel: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.trunk(log_mel)), dim=-1)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.embed_features(self.front_end(waveforms))
