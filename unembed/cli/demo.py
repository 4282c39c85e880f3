"""`unembed demo`: offline cross-modal arithmetic on MiniBind, start to finish.

It writes a MiniBind scene (a colour-shape pair never seen in training) and a sound. First the loop
alone: the picture inverted from a bank that lacks its caption (`minibind-image:open-world`), the
bank's best printed beside the loop's answer. Then the arithmetic: it inverts each into words,
combines them (text mode: merge the words; embedding mode: add the vectors, invert the sum), draws
the result with the minibind renderer, and prints every text with its score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import atomic, checks
from ..arithmetic import arith, draw, file, for_display
from ..inverter import invert
from ..minibind import world
from ..minibind.renderer import MiniBindRenderer
from ..renderers import load_renderer
from ..spaces import load_space
from .options import GENERATOR_HELP, seed

DEMO_IMAGE = ("circle", "green", "left", "large")  # green circles are held out of MiniBind's training
DEMO_SOUND = ("rain", "loud")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="offline demo: a MiniBind picture + a sound, inverted, combined and drawn")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for the files (default out/demo)")
    parser.add_argument("--generator", default=None, help=GENERATOR_HELP)
    parser.add_argument("--steps", type=int, default=2, help="MILS steps per inversion (default 2: a quick demo)")
    parser.add_argument("--requested", type=int, default=10, help="texts asked per step (default 10)")
    parser.add_argument("--seed", type=seed, default=0)
    parser.set_defaults(run=run)


def run(args) -> int:
    # Checked before the demo writes its first file, not by the first inversion after it.
    checks.count(args.steps, "--steps", minimum=0, maximum=checks.COUNT_LIMIT)
    checks.count(args.requested, "--requested", maximum=checks.COUNT_LIMIT)
    for name in ("scene.png", "sound.wav", "demo.json"):
        atomic.check_writable(args.out / name)
    rng = np.random.default_rng(args.seed)
    scene = world.ImageScene((world.ShapeObject(*DEMO_IMAGE),))
    sound = world.AudioScene((world.SoundEvent(*DEMO_SOUND),))
    image_path, sound_path = args.out / "scene.png", args.out / "sound.wav"
    atomic.save_png(image_path, Image.fromarray(world.render_image(scene, rng)))
    atomic.save_wav(sound_path, world.render_audio(sound, rng), world.SAMPLE_RATE)
    print(f"wrote {image_path} (truth: {world.caption(scene)}) and {sound_path} (truth: {world.caption(sound)})")

    space = load_space("minibind")
    alone = invert(
        space.embed("image", [image_path])[0],
        space=space,
        bank="minibind-image:open-world",
        modality="image",
        generator=args.generator,
        steps=args.steps,
        requested=args.requested,
        seed=args.seed,
    )
    print(f"{alone.bootstrap_score:.3f}  caption bank's best (the bank lacks this scene): {alone.bootstrap_text}")
    assert alone.config is not None  # the loop records its settings
    print(f"{alone.score:.3f}  the loop's answer ({alone.config.generator}, {len(alone.history) - 1} steps): {alone.text}")

    terms = [file(image_path), file(sound_path)]
    options = dict(space=space, generator=args.generator, steps=args.steps, requested=args.requested, seed=args.seed)
    text_mode = arith(terms, mode="text", **options)
    for (_, text), inversion, path in zip(text_mode.parts, text_mode.inversions, (image_path, sound_path), strict=True):
        assert inversion is not None  # text mode inverts every term that is not a text
        print(f"{inversion.score:.3f}  {path.name} in words: {text}  (caption bank's best: {inversion.bootstrap_text})")
    assert text_mode.merge is not None  # text mode merges
    print(f"{text_mode.score:.3f}  text mode, merged [{text_mode.merge.source}]: {text_mode.text}")
    embedding_mode = arith(terms, mode="embedding", **options)
    print(f"{embedding_mode.score:.3f}  embedding mode, sum inverted: {embedding_mode.text}")

    renderer = load_renderer("minibind")
    assert isinstance(renderer, MiniBindRenderer)
    report: dict[str, Any] = {
        "image": str(image_path),
        "sound": str(sound_path),
        "truth": [world.caption(scene), world.caption(sound)],
        "open_world_inversion": alone.to_dict(),
        "results": {},
    }
    for name, result in (("text", text_mode), ("embedding", embedding_mode)):
        picture_path = args.out / f"{name}_mode.png"
        drawing = draw(result, space, renderer=renderer, seed=args.seed)
        atomic.save_png(picture_path, for_display(drawing.picture))
        drawn = world.caption(renderer.interpret(result.text, seed=args.seed))
        print(
            f"{drawing.rendered_cosine:.3f}  {name} mode drawn: {drawn} -> {picture_path}  (cosine of the drawn picture with scene + sound)"
        )
        report["results"][name] = {
            **result.to_dict(),
            "drawn": drawn,
            "rendered_cosine": drawing.rendered_cosine,
            "picture": str(picture_path),
        }
    atomic.write_json(args.out / "demo.json", report)
    print(f"wrote {args.out / 'demo.json'}")
    return 0
