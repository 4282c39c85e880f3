"""`unembed bench space` (`run_space`): how fast a torch-backed space scores text candidates and embeds images/audio.

For every modality, dtype and batch size: items per second over `--batches` full batches, after
one untimed warm-up batch. Text is measured as MILS uses it: candidates embedded and scored (dot
product) against one target. Images are 480x640 arrays (so resizing is included), audio 10 s
recordings at 44.1 kHz (resampling, 3 fbank clips and the clip average included; clips/s is 3x).
The baseline, measured in the same run, is the first dtype (float32 by default) at the smallest
batch size; every row reports its speed as a ratio to it.
"""

from __future__ import annotations

import dataclasses
import platform
import time

import numpy as np
import torch

from ..errors import InputError, SpaceError
from ..spaces import load_space

AUDIO_SECONDS = 10
AUDIO_RATE = 44_100
IMAGE_SHAPE = (480, 640, 3)
_WORDS = (
    "a dog cat child man woman car train bird guitar engine crowd wave river street kitchen "
    "red small old bright wooden playing running barking singing under near across inside beside "
    "the beach a park the rain at night with two three loud quiet slowly on a table"
).split()


def synthetic_items(modality: str, count: int, rng: np.random.Generator) -> list:
    if modality == "text":
        return [" ".join(rng.choice(_WORDS, size=int(rng.integers(4, 16)))) for _ in range(count)]
    if modality == "image":
        return [rng.integers(0, 256, IMAGE_SHAPE, dtype=np.uint8) for _ in range(count)]
    if modality == "audio":
        t = np.arange(AUDIO_SECONDS * AUDIO_RATE) / AUDIO_RATE
        return [
            ((0.3 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32), AUDIO_RATE)
            for _ in range(count)
        ]
    raise InputError(f"no synthetic inputs for modality {modality!r}; bench text, image or audio.")


def measure(space, modality: str, items: list, target: np.ndarray) -> float:
    """Seconds to embed `items` (and, for text, score them against `target`)."""
    start = time.perf_counter()
    vectors = space.embed(modality, items)
    if modality == "text":
        np.argsort(-(vectors @ target))  # MILS ranks the scored candidates
    return time.perf_counter() - start


def run_space(
    *,
    space="imagebind",
    random_weights=False,
    size=None,
    device=None,
    dtypes=("float32", "bfloat16"),
    batch_sizes=(1, 8, 32),
    modalities=None,
    batches=3,
    threads=None,
    seed=0,
) -> dict:
    """The report: one row per modality, dtype and batch size. random_weights: no checkpoint needed;
    size: for spaces with sizes (imagebind: huge, tiny); device: cpu, cuda, cuda:1 (default: cuda if
    available); modalities: default all of the space's; batches: timed batches per setting; threads:
    torch CPU threads (default torch's choice)."""
    if threads:
        torch.set_num_threads(threads)
    options = {"device": device}
    if random_weights:
        options.update(random_weights=True, seed=seed)
    if size:
        options["size"] = size
    started = time.perf_counter()
    space = load_space(space, **options)
    load_seconds = time.perf_counter() - started
    if space.runtime is None:
        raise SpaceError(f"space {space.spec!r} has no torch runtime to vary; bench imagebind or openclip:... spaces.")
    modalities = list(modalities) if modalities else [m for m in space.modalities if m in ("text", "image", "audio")]
    batch_sizes = sorted(int(size) for size in batch_sizes)
    dtypes = list(dtypes)
    rng = np.random.default_rng(seed)
    target = rng.standard_normal(space.dim).astype(np.float32)
    rows = []
    for modality in modalities:
        baseline = None
        pool = synthetic_items(modality, max(batch_sizes) * (batches + 1), rng)
        for dtype in dtypes:
            for batch_size in batch_sizes:
                space.runtime, space.batch_size = dataclasses.replace(space.runtime, dtype=dtype), batch_size
                measure(space, modality, pool[:batch_size], target)  # warm-up: allocator, autocast caches
                count = batch_size * batches
                seconds = measure(space, modality, pool[batch_size : batch_size + count], target)
                per_second = count / seconds
                baseline = baseline or per_second
                row = dict(
                    modality=modality,
                    dtype=dtype,
                    batch_size=batch_size,
                    items=count,
                    seconds=round(seconds, 4),
                    items_per_second=round(per_second, 3),
                    ratio_to_baseline=round(per_second / baseline, 3),
                )
                if modality == "audio":
                    row["clips_per_second"] = round(3 * per_second, 3)
                rows.append(row)
    device = space.runtime.device
    return {
        "bench": "space",
        "space": space.spec,
        "random_weights": bool(random_weights),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "load_seconds": round(load_seconds, 2),
        "baseline": f"{dtypes[0]} at batch size {batch_sizes[0]}, per modality",
        "text_unit": "candidates embedded and scored against one target",
        "image_input": f"{IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]} RGB arrays",
        "audio_input": f"{AUDIO_SECONDS} s at {AUDIO_RATE} Hz (3 clips each)",
        "rows": rows,
    }
