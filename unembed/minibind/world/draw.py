"""Image rendering: a scene as a 64x64 RGB picture."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .scenes import COLOURS, ImageScene

IMAGE_SIZE = 64


def _shape_polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "square":
        h = r * 0.85
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r * 0.95, cy + r * 0.75), (cx - r * 0.95, cy + r * 0.75)]
    if shape == "star":
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r * 1.1, r * 0.45)
        return list(zip(cx + radii * np.cos(angles), cy - radii * np.sin(angles), strict=True))
    if shape == "heart":
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
        return list(zip(cx + x * r / 16, cy - (y + 2) * r / 16, strict=True))
    if shape == "cross":
        a, b = r, r * 0.33
        return [
            (cx - b, cy - a),
            (cx + b, cy - a),
            (cx + b, cy - b),
            (cx + a, cy - b),
            (cx + a, cy + b),
            (cx + b, cy + b),
            (cx + b, cy + a),
            (cx - b, cy + a),
            (cx - b, cy + b),
            (cx - a, cy + b),
            (cx - a, cy - b),
            (cx - b, cy - b),
        ]
    raise ValueError(f"unknown shape {shape!r}")


def _jitter_colour(rgb: tuple[int, int, int], rng: np.random.Generator, amount: int = 14) -> tuple[int, ...]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)


_OBJECT_X = {"left": 16, "centre": 32, "right": 48}
_RADIUS = {"small": (5.0, 7.0), "large": (11.0, 13.0), None: (8.0, 9.5)}


def render_image(scene: ImageScene, rng: np.random.Generator) -> np.ndarray:
    """(64, 64, 3) uint8 picture of `scene`; `rng` varies placement, size, tint and noise."""
    scale = 3  # draw large, then downsample: anti-aliased edges
    side = IMAGE_SIZE * scale
    base = (70, 72, 92) if scene.element == "lightning" else (196, 198, 190)
    image = Image.new("RGB", (side, side), _jitter_colour(base, rng, 18))
    draw = ImageDraw.Draw(image)

    def s(values):
        return [(x * scale, y * scale) for x, y in values]

    if scene.element == "lightning":
        x = rng.uniform(10, 54)
        points = [(x, 0)]
        for height in (4, 8, 12, 16):
            x += rng.uniform(-5, 5)
            points.append((x, height))
        draw.line(s(points), fill=_jitter_colour((255, 240, 120), rng), width=2 * scale)
    elif scene.element == "birds":
        for _ in range(rng.integers(3, 6)):
            x, y = rng.uniform(6, 58), rng.uniform(3, 13)
            draw.line(s([(x - 3, y - 2), (x, y), (x + 3, y - 2)]), fill=(30, 30, 30), width=scale)
    elif scene.element == "bell":
        x, y = rng.uniform(14, 50), rng.uniform(2, 4)
        draw.polygon(s([(x - 2, y), (x + 2, y), (x + 5, y + 9), (x - 5, y + 9)]), fill=_jitter_colour((212, 170, 40), rng))
        draw.ellipse(s([(x - 1.3, y + 8.5), (x + 1.3, y + 11.5)]), fill=(90, 70, 20))
    elif scene.element == "car":
        x = rng.uniform(4, 40)
        body = _jitter_colour((60, 62, 74), rng)
        draw.rectangle(s([(x, 54), (x + 20, 59)]), fill=body)
        draw.rectangle(s([(x + 4, 50), (x + 14, 54)]), fill=body)
        for wx in (x + 4, x + 16):
            draw.ellipse(s([(wx - 2.2, 57.5), (wx + 2.2, 62)]), fill=(15, 15, 15))

    for obj in scene.objects:
        assert obj.colour is not None and obj.position is not None, "a scene to draw names every colour and position"
        low, high = _RADIUS[obj.size]
        r = rng.uniform(low, high)
        cx = _OBJECT_X[obj.position] + rng.uniform(-3, 3)
        cy = 33 + rng.uniform(-3, 3)
        fill = _jitter_colour(COLOURS[obj.colour], rng)
        if obj.shape == "circle":
            draw.ellipse(s([(cx - r, cy - r), (cx + r, cy + r)]), fill=fill)
        else:
            draw.polygon(s(_shape_polygon(obj.shape, cx, cy, r)), fill=fill)

    if scene.element == "rain":
        drop = _jitter_colour((120, 140, 200), rng)
        for _ in range(rng.integers(40, 70)):
            x, y = rng.uniform(0, 64), rng.uniform(0, 64)
            draw.line(s([(x, y), (x - 1.5, y + 4)]), fill=drop, width=scale // 2 + 1)

    small = np.asarray(image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX), dtype=np.float32)
    small += rng.normal(0, 4, size=small.shape)
    return np.clip(small, 0, 255).astype(np.uint8)
