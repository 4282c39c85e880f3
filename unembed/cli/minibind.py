"""`unembed minibind sample`: write scenes (PNG) and sounds (WAV) of MiniBind's world with their true captions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .. import atomic, checks
from ..minibind import world
from .options import seed


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("minibind", help="MiniBind's procedural world (offline image/audio/text space)")
    commands = parser.add_subparsers(dest="minibind_command", required=True, metavar="ACTION")
    sample = commands.add_parser("sample", help="write a few scenes (PNG) and sounds (WAV) with their true captions (JSON)")
    sample.add_argument("--out", required=True, type=Path, help="folder to write into (created if missing)")
    sample.add_argument("--n", type=int, default=4, help="images and sounds each (default 4)")
    sample.add_argument("--seed", type=seed, default=0)
    sample.add_argument("--held-out", action="store_true", help="only combinations never seen in training")
    sample.set_defaults(run=run_sample)


def run_sample(args) -> int:
    checks.count(args.n, "--n", maximum=checks.COUNT_LIMIT)  # 10**8 ran for minutes, in memory, before writing a file
    rng = np.random.default_rng(args.seed)
    entries = []
    for index, scene in enumerate(world.sample_scenes("image", args.n, rng, held_out=args.held_out)):
        name = f"scene_{index:03d}.png"
        atomic.save_png(args.out / name, Image.fromarray(world.render_image(scene, rng)))
        entries.append({"file": name, "modality": "image", "caption": world.caption(scene), "paraphrase": world.paraphrase(scene, rng)})
    for index, scene in enumerate(world.sample_scenes("audio", args.n, rng, held_out=args.held_out)):
        name = f"sound_{index:03d}.wav"
        atomic.save_wav(args.out / name, world.render_audio(scene, rng), world.SAMPLE_RATE)
        entries.append({"file": name, "modality": "audio", "caption": world.caption(scene), "paraphrase": world.paraphrase(scene, rng)})
    atomic.write_json(args.out / "captions.json", entries)
    for entry in entries:
        print(f"{entry['file']}: {entry['caption']}")
    print(f"wrote {len(entries)} files and captions.json to {args.out}")
    return 0
