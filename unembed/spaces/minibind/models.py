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
    audio_channels: tuple[int, ...] = (64, 128, 128)  # the audio encoder's convolutions over frequency
    tempo_groups: int = 8  # groups of mel bands with their own modulation spectrum
    tempo_features: int = 32
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

    Two streams over the log-mel, added up by a linear head, so that what sounds and how fast it
    repeats are read apart instead of being memorised as pairs:
    - what: 1-d convolutions over frequency of the clip's spectral profile (per-band mean, peak and
      spread over time); with the per-band mean and peak levels themselves (loudness).
    - how fast: the modulation spectrum (|FFT| over time of each band's log-mel, 0.5-12.5 Hz) of
      `tempo_groups` groups of bands and of the whole clip (bands weighted by their energy), each
      read by one small MLP shared by all groups, so that a repetition rate means the same at any pitch.
    Time shifts move no feature but the phase the modulation spectrum drops.
    """

    MODULATION_BINS = 25  # 0.5 .. 12.5 Hz at 50 frames per second

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.front_end = LogMel(config)
        layers: list[nn.Module] = []
        in_channels = 3
        for out_channels in config.audio_channels:
            layers += [nn.Conv1d(in_channels, out_channels, 5, stride=2, padding=2, bias=False), nn.BatchNorm1d(out_channels), nn.GELU()]
            in_channels = out_channels
        self.profile = nn.Sequential(*layers)
        self.tempo_groups = config.tempo_groups
        self.modulation = nn.Sequential(
            nn.Linear(self.MODULATION_BINS, 48), nn.GELU(), nn.Linear(48, config.tempo_features), nn.GELU()
        )
        bands = -(-config.n_mels // 2 ** len(config.audio_channels))
        self.trunk_size = config.audio_channels[-1] * bands + (config.tempo_groups + 1) * config.tempo_features + 2 * config.n_mels
        self.head = nn.Linear(self.trunk_size, config.dim)  # linear: feature contributions add up

    def trunk(self, log_mel: torch.Tensor) -> torch.Tensor:
        bands = log_mel[:, 0]  # (B, n_mels, frames)
        mean, peak = bands.mean(dim=2), bands.amax(dim=2)
        what = self.profile(torch.stack([mean, peak, bands.std(dim=2)], dim=1)).flatten(1)
        spectrum = torch.fft.rfft(bands - mean[..., None], dim=2).abs()[:, :, 1 : 1 + self.MODULATION_BINS]
        groups = spectrum.reshape(len(bands), self.tempo_groups, -1, self.MODULATION_BINS).mean(dim=2)
        weights = torch.softmax(mean * 3, dim=1)[..., None]  # the loudest bands lead the clip-wide rate
        whole = (spectrum * weights).sum(dim=1, keepdim=True) * self.tempo_groups
        tempo = self.modulation(torch.log1p(torch.cat([groups, whole], dim=1))).flatten(1)
        return torch.cat([what, tempo, mean, peak], dim=1)

    def embed_features(self, log_mel: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.trunk(log_mel)), dim=-1)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        return self.embed_features(self.front_end(waveforms))
