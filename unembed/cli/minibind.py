"""`unembed minibind sample`: write scenes (PNG) and sounds (WAV) of MiniBind's world with their true captions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from .. import atomic, checks, jsontext
from ..errors import InputError
from ..minibind import world
from .options import seed

CAPTIONS = "captions.json"
# Every entry of the captions.json that `sample` writes names its file and says who wrote it: the mark by which a
# later `sample` into the same folder tells its own files, which it replaces, from the user's, which it does not.
WRITTEN_BY = "unembed minibind sample"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("minibind", help="MiniBind's procedural world (offline image/audio/text space)")
    commands = parser.add_subparsers(dest="minibind_command", required=True, metavar="ACTION")
    sample = commands.add_parser("sample", help="write a few scenes (PNG) and sounds (WAV) with their true captions (JSON)")
    sample.add_argument("--out", required=True, type=Path, help="folder to write into (created if missing)")
    sample.add_argument("--n", type=int, default=4, help="images and sounds each (default 4)")
    sample.add_argument("--seed", type=seed, default=0)
    sample.add_argument("--held-out", action="store_true", help="only combinations never seen in training")
    sample.add_argument(
        "--overwrite", action="store_true", help="replace files of the names it writes that an earlier sample did not write"
    )
    sample.set_defaults(run=run_sample)


def run_sample(args) -> int:
    checks.count(args.n, "--n", maximum=checks.COUNT_LIMIT)  # 10**8 ran for minutes, in memory, before writing a file
    names = [f"scene_{index:03d}.png" for index in range(args.n)] + [f"sound_{index:03d}.wav" for index in range(args.n)]
    if not args.overwrite:
        _refuse_others(args.out, [*names, CAPTIONS])
    rng = np.random.default_rng(args.seed)
    entries = []
    for index, scene in enumerate(world.sample_scenes("image", args.n, rng, held_out=args.held_out)):
        name = f"scene_{index:03d}.png"
        atomic.save_png(args.out / name, Image.fromarray(world.render_image(scene, rng)))
        entries.append({"file": name, "modality": "image", "caption": world.caption(scene), "paraphrase": world.paraphrase(scene, rng),
                        "written_by": WRITTEN_BY})  # fmt: skip
    for index, scene in enumerate(world.sample_scenes("audio", args.n, rng, held_out=args.held_out)):
        name = f"sound_{index:03d}.wav"
        atomic.save_wav(args.out / name, world.render_audio(scene, rng), world.SAMPLE_RATE)
        entries.append({"file": name, "modality": "audio", "caption": world.caption(scene), "paraphrase": world.paraphrase(scene, rng),
                        "written_by": WRITTEN_BY})  # fmt: skip
    atomic.write_json(args.out / CAPTIONS, entries)
    for entry in entries:
        print(f"{entry['file']}: {entry['caption']}")
    print(f"wrote {len(entries)} files and captions.json to {args.out}")
    return 0


def _refuse_others(out: Path, names: list[str]) -> None:
    """Refuse to write into `out` over files of `names` that an earlier `sample` did not write: a file is its own when
    the captions.json there is one that `sample` wrote (every entry marked WRITTEN_BY) and lists it."""
    present = [name for name in names if os.path.lexists(out / name)]
    if not present:
        return
    ours = _written_by_sample(out)
    others = [name for name in present if name not in ours]
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise InputError(
            f"{out} holds {shown}, which unembed minibind sample did not write (no {CAPTIONS} of its own lists them): "
            "writing the samples would replace them. Choose another --out (e.g. a new folder), or pass --overwrite to "
            "replace them."
        )


def _written_by_sample(out: Path) -> set[str]:
    """The files that the captions.json in `out` lists, and captions.json itself, if `sample` wrote it; else none."""
    path = out / CAPTIONS
    if path.is_symlink() or not path.is_file():  # a link, a FIFO (which would block the read), a folder: not ours
        return set()
    try:
        entries = jsontext.parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable, not JSON: not ours
        return set()
    if not isinstance(entries, list) or not entries:
        return set()
    marked = (isinstance(entry, dict) and entry.get("written_by") == WRITTEN_BY and isinstance(entry.get("file"), str) for entry in entries)
    if not all(marked):
        return set()
    return {CAPTIONS, *(entry["file"] for entry in entries)}
