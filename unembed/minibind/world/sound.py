"""Audio synthesis: a scene as a 2 s, 16 kHz mono waveform."""

from __future__ import annotations

import numpy as np

from .scenes import AudioScene, SoundEvent

SAMPLE_RATE = 16000
CLIP_SECONDS = 2.0
CLIP_SAMPLES = int(SAMPLE_RATE * CLIP_SECONDS)

_GAIN = {"quiet": 0.025, "loud": 0.16, None: 0.063}  # RMS: quiet and loud 16 dB apart; unnamed midway


def _decay(length: int, tau_seconds: float) -> np.ndarray:
    return np.exp(-np.arange(length) / (tau_seconds * SAMPLE_RATE))


def _bandpass(signal: np.ndarray, low: float, high: float) -> np.ndarray:
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(len(signal), 1 / SAMPLE_RATE)
    spectrum[(freqs < low) | (freqs > high)] = 0
    return np.fft.irfft(spectrum, n=len(signal))


def _add_at(out: np.ndarray, start: int, grain: np.ndarray) -> None:
    end = min(len(out), start + len(grain))
    if start < end:
        out[start:end] += grain[: end - start]


def _onsets(tempo: str | None, rng: np.random.Generator, slow: float, fast: float) -> np.ndarray:
    period = (slow if tempo == "slow" else fast) * rng.uniform(0.85, 1.15)
    times = np.arange(rng.uniform(0, period), CLIP_SECONDS, period)
    return (times + rng.normal(0, period * 0.05, size=len(times))).clip(0, CLIP_SECONDS)


def _synth_event(event: SoundEvent, rng: np.random.Generator) -> np.ndarray:
    n = CLIP_SAMPLES
    t = np.arange(n) / SAMPLE_RATE
    out = np.zeros(n)
    if event.kind == "rain":
        out = _bandpass(rng.normal(size=n), 1500, 7500) * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t))
        for start in rng.integers(0, n, size=int(rng.uniform(40, 80) * CLIP_SECONDS)):
            length = int(0.004 * SAMPLE_RATE)
            _add_at(out, start, 3 * np.sin(2 * np.pi * rng.uniform(2500, 5000) * np.arange(length) / SAMPLE_RATE) * _decay(length, 0.001))
    elif event.kind == "thunder":
        start = int(rng.uniform(0.05, 0.6) * SAMPLE_RATE)
        rumble = _bandpass(rng.normal(size=n), 25, 300)
        envelope = np.zeros(n)
        envelope[start:] = _decay(n - start, rng.uniform(0.4, 0.8)) * (1 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 5) * t[: n - start]))
        crack = np.zeros(n)
        _add_at(crack, start, _bandpass(rng.normal(size=n), 300, 4000)[: int(0.08 * SAMPLE_RATE)] * _decay(int(0.08 * SAMPLE_RATE), 0.02))
        out = rumble * envelope + crack * 0.6
    elif event.kind == "wind":
        centre = rng.uniform(350, 700)
        gusts = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.3, 0.9) * t + rng.uniform(0, 6.3))
        out = _bandpass(rng.normal(size=n), centre * 0.6, centre * 1.6) * gusts
    elif event.kind == "birds":
        base = rng.uniform(1600, 2300) if event.pitch == "low" else rng.uniform(4000, 5200)
        for onset in _onsets(event.tempo, rng, 0.45, 0.13):
            length = int(rng.uniform(0.05, 0.09) * SAMPLE_RATE)
            tt = np.arange(length) / SAMPLE_RATE
            freq = base * (1 + rng.uniform(0.15, 0.35) * tt / tt[-1])
            phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
            _add_at(out, int(onset * SAMPLE_RATE), np.sin(phase) * np.hanning(length))
    elif event.kind == "bell":
        f0 = rng.uniform(330, 450) if event.pitch == "low" else rng.uniform(1000, 1300)
        length = int(0.9 * SAMPLE_RATE)
        tt = np.arange(length) / SAMPLE_RATE
        partials = [(1.0, 1.0, 0.5), (2.0, 0.6, 0.35), (2.76, 0.4, 0.25), (5.4, 0.25, 0.12)]
        strike = sum(a * np.sin(2 * np.pi * f0 * ratio * tt) * _decay(length, tau) for ratio, a, tau in partials if f0 * ratio < 7800)
        for onset in _onsets(event.tempo, rng, 0.7, 0.2):
            _add_at(out, int(onset * SAMPLE_RATE), strike)
    elif event.kind == "engine":
        hum = (rng.uniform(35, 55) if event.pitch == "low" else rng.uniform(150, 210)) * (1 + 0.03 * np.sin(2 * np.pi * 0.7 * t))
        phase = 2 * np.pi * np.cumsum(hum) / SAMPLE_RATE
        out = sum((np.sin(k * phase) / k for k in range(1, 40) if k * hum.max() < 3000), np.zeros(n))
        out = out * (1 + 0.3 * np.sin(phase / 2)) + 0.2 * _bandpass(rng.normal(size=n), 80, 1200)
    elif event.kind == "clock":
        length = int(0.012 * SAMPLE_RATE)
        for index, onset in enumerate(_onsets(event.tempo, rng, 0.5, 0.16)):
            pitch = 2800 if index % 2 == 0 else 2200
            click = np.sin(2 * np.pi * pitch * np.arange(length) / SAMPLE_RATE) * _decay(length, 0.002)
            _add_at(out, int(onset * SAMPLE_RATE), click)
    else:
        raise ValueError(f"unknown sound {event.kind!r}")
    rms = np.sqrt(np.mean(out**2)) or 1.0
    gain = _GAIN[event.loudness] * 10 ** (rng.uniform(-2, 2) / 20)
    return out / rms * gain


def render_audio(scene: AudioScene, rng: np.random.Generator) -> np.ndarray:
    """(32000,) float32 waveform of `scene` at 16 kHz: its events mixed over a faint noise floor."""
    mix = rng.normal(0, 0.001, size=CLIP_SAMPLES)
    for event in scene.events:
        mix = mix + _synth_event(event, rng)
    return np.clip(mix, -1, 1).astype(np.float32)
