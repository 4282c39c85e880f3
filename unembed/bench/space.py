"""`unembed bench space`: how fast a torch-backed space scores text candidates and embeds images/audio.

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

from .. import atomic
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


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("space", help="embedding speed of a space: text candidates, images, audio clips")
    parser.add_argument("--space", default="imagebind", help="space spec (default imagebind)")
    parser.add_argument("--random-weights", action="store_true", help="random weights: no checkpoint needed")
    parser.add_argument("--size", default=None, help="architecture size for spaces that have sizes (imagebind: huge, tiny)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    parser.add_argument("--dtypes", default="float32,bfloat16", help="comma list of float32, float16, bfloat16")
    parser.add_argument("--batch-sizes", default="1,8,32", help="comma list (default 1,8,32)")
    parser.add_argument("--modalities", default=None, help="comma list (default: all of the space's)")
    parser.add_argument("--batches", type=int, default=3, help="timed batches per setting (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", required=True, help="where to write the report")
    parser.set_defaults(run=run)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


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


def run(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    options = {"device": args.device}
    if args.random_weights:
        options.update(random_weights=True, seed=args.seed)
    if args.size:
        options["size"] = args.size
    started = time.perf_counter()
    space = load_space(args.space, **options)
    load_seconds = time.perf_counter() - started
    if space.runtime is None:
        raise SpaceError(f"space {space.spec!r} has no torch runtime to vary; bench imagebind or openclip:... spaces.")
    modalities = _csv(args.modalities) if args.modalities else [m for m in space.modalities if m in ("text", "image", "audio")]
    batch_sizes = sorted(int(size) for size in _csv(args.batch_sizes))
    dtypes = _csv(args.dtypes)
    rng = np.random.default_rng(args.seed)
    target = rng.standard_normal(space.dim).astype(np.float32)
    rows = []
    for modality in modalities:
        baseline = None
        pool = synthetic_items(modality, max(batch_sizes) * (args.batches + 1), rng)
        for dtype in dtypes:
            for batch_size in batch_sizes:
                space.runtime, space.batch_size = dataclasses.replace(space.runtime, dtype=dtype), batch_size
                measure(space, modality, pool[:batch_size], target)  # warm-up: allocator, autocast caches
                count = batch_size * args.batches
                seconds = measure(space, modality, pool[batch_size : batch_size + count], target)
                per_second = count / seconds
                baseline = baseline or per_second
                row = dict(modality=modality, dtype=dtype, batch_size=batch_size, items=count, seconds=round(seconds, 4),
                           items_per_second=round(per_second, 3), ratio_to_baseline=round(per_second / baseline, 3))
                if modality == "audio":
                    row["clips_per_second"] = round(3 * per_second, 3)
                rows.append(row)
                print(f"{modality:6} {dtype:9} batch {batch_size:4}: {per_second:10.2f} items/s  x{per_second / baseline:.2f}", flush=True)
    device = space.runtime.device
    report = {
        "bench": "space",
        "space": space.spec,
        "random_weights": bool(args.random_weights),
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
    atomic.write_json(args.json, report)
    print(f"wrote {args.json}")
    return 0
