"""`unembed bench arith` (`run_arith`): cross-modal arithmetic on MiniBind, scored by the world's parser.

Cases (fresh renders; images held out: colour-shape combinations never seen in training):
- arith: image A (one object, no scene element, held out) + sound B (one event whose kind the
  image world can draw: SOUND_TO_ELEMENT). Success: the result, as MiniBindRenderer.interpret
  reads it (the scene the renderer draws), has A's object (shape and colour) and B's element.
- analogy: image C (one object, no element, held out) - "C's colour" + "another colour".
  Success: the drawn scene is one object of C's shape in the new colour.

Both modes run on the same cases: embedding (combine, then invert) and text (invert each term,
merge, checked against the combined embedding); `bank_top1` is the bank's nearest caption to the
combined embedding with no loop. `llm_merge_win_rate` is how often the LLM's merge beat the
rule-based joins. Render-and-score runs on the first `render_n` arith cases. Speed is reported
as ratios against bank_top1 (one FAISS search per case) measured in the same run.
"""

from __future__ import annotations

import time

import numpy as np

from .. import checks
from ..arithmetic import Term, arith_many, render_and_score
from ..errors import InputError
from ..generators import default_generator
from ..index import resolve_bank
from ..minibind import world
from ..renderers import load_renderer
from ..spaces import load_space

# Sound kind -> the image scene element that draws it. Thunder is drawn as lightning and an engine
# as a car (the world's parser reads "thunder" and "engine" in image text the same way); wind and
# clock have nothing to draw and are not sampled.
SOUND_TO_ELEMENT = {"rain": "rain", "birds": "birds", "bell": "bell", "thunder": "lightning", "engine": "car"}


def sample_cases(n: int, rng: np.random.Generator):
    """(arith pairs [(image scene, audio scene)], analogies [(image scene, new colour)])."""
    images = [s for s in world.all_image_scenes("one-object") if s.element is None and world.is_held_out(s)]
    sounds = [s for s in world.all_audio_scenes("one-event") if s.events[0].kind in SOUND_TO_ELEMENT]
    pairs = [(images[rng.integers(len(images))], sounds[rng.integers(len(sounds))]) for _ in range(n)]
    analogies = []
    for _ in range(n):
        scene = images[rng.integers(len(images))]
        colours = [c for c in world.COLOURS if c != scene.objects[0].colour]
        analogies.append((scene, colours[rng.integers(len(colours))]))
    return pairs, analogies


def drawn(renderer, text: str):
    """The scene the minibind renderer draws for `text`, or None when it cannot draw it."""
    try:
        return renderer.interpret(text)
    except InputError:
        return None


def arith_ok(scene, image, sound) -> bool:
    if scene is None:
        return False
    obj = image.objects[0]
    has_object = any(o.shape == obj.shape and o.colour == obj.colour for o in scene.objects)
    return has_object and scene.element == SOUND_TO_ELEMENT[sound.events[0].kind]


def analogy_ok(scene, image, colour) -> bool:
    return (
        scene is not None
        and len(scene.objects) == 1
        and scene.objects[0].shape == image.objects[0].shape
        and scene.objects[0].colour == colour
    )


def run_arith(
    *,
    n=50,
    seed=2024,
    space="minibind",
    generator=None,
    steps=3,
    requested=20,
    merge_generator="llama.cpp",
    merges=5,
    render_n=10,
    render_steps=3,
    progress=True,
) -> dict:
    """The report: `n` cases per task; `steps` and `requested` for each inversion; `merges` LLM merges per
    case in text mode by `merge_generator`; the first `render_n` arith cases also through render-and-score."""
    checks.count(n, "n")
    space = load_space(space)
    generator = generator or default_generator(space)
    renderer = load_renderer("minibind")
    image_bank = resolve_bank("minibind-image", space)
    rng = np.random.default_rng(seed)
    pairs, analogies = sample_cases(n, rng)
    pictures = [world.render(scene, rng) for scene in [image for image, _ in pairs] + [image for image, _ in analogies]]
    sounds = [world.render(sound, rng) for _, sound in pairs]
    cases = [[Term(1.0, picture, "image"), Term(1.0, sound, "audio")] for picture, sound in zip(pictures[:n], sounds, strict=True)]
    cases += [
        [Term(1.0, picture, "image"), Term(-1.0, image.objects[0].colour, "text"), Term(1.0, colour, "text")]
        for picture, (image, colour) in zip(pictures[n:], analogies, strict=True)
    ]

    def score(texts):
        scenes = [drawn(renderer, text) for text in texts]
        return {
            "arith_success": float(np.mean([arith_ok(s, a, b) for s, (a, b) in zip(scenes[:n], pairs, strict=True)])),
            "analogy_accuracy": float(np.mean([analogy_ok(s, c, colour) for s, (c, colour) in zip(scenes[n:], analogies, strict=True)])),
        }

    options = dict(space=space, generator=generator, steps=steps, requested=requested, seed=seed, progress=progress)
    report: dict = {
        "space": space.spec,
        "n": n,
        "seed": seed,
        "generator": generator,
        "steps": steps,
        "requested": requested,
        "merge_generator": merge_generator,
        "merges": merges,
        "sound_to_element": SOUND_TO_ELEMENT,
    }

    started = time.perf_counter()
    embedding = arith_many(cases, mode="embedding", bank=image_bank, **options)
    embedding_seconds = (time.perf_counter() - started) / len(cases)
    targets = np.stack([result.target for result in embedding])
    report["embedding_mode"] = score([result.text for result in embedding])

    started = time.perf_counter()
    bank_texts = [row[0] for row in image_bank.search(targets, k=1).texts]
    baseline = (time.perf_counter() - started) / len(targets)
    report["bank_top1"] = score(bank_texts)

    started = time.perf_counter()
    merged = arith_many(cases, mode="text", merge_generator=merge_generator, merges=merges, **options)
    text_seconds = (time.perf_counter() - started) / len(cases)
    merges = [result.merge for result in merged if result.merge is not None]
    assert len(merges) == len(merged)  # text mode merges every case
    report["text_mode"] = score([result.text for result in merged])
    report["text_mode"]["llm_merge_win_rate"] = {
        "arith": float(np.mean([merge.llm_won for merge in merges[:n]])),
        "analogy": float(np.mean([merge.llm_won for merge in merges[n:]])),
    }
    report["text_mode"]["llm_merge_errors"] = sum(merge.error is not None for merge in merges)
    image_texts = [result.parts[0][1] for result in merged]
    sound_texts = [result.parts[1][1] for result in merged[:n]]
    image_scenes = [image for image, _ in pairs] + [image for image, _ in analogies]
    report["term_inversion"] = {
        "image_object_accuracy": float(
            np.mean(
                [
                    (s := drawn(renderer, t)) is not None
                    and len(s.objects) == 1
                    and (s.objects[0].shape, s.objects[0].colour) == (c.objects[0].shape, c.objects[0].colour)
                    for t, c in zip(image_texts, image_scenes, strict=True)
                ]
            )
        ),
        "sound_kind_accuracy": float(
            np.mean(
                [
                    [e.kind for e in world.parse_audio_text(t).events] == [sound.events[0].kind]
                    for t, (_, sound) in zip(sound_texts, pairs, strict=True)
                ]
            )
        ),
    }

    render_n = min(render_n, n)
    if render_n:
        started = time.perf_counter()
        runs = [
            render_and_score(
                target,
                space=space,
                renderer=renderer,
                bank=image_bank,
                generator=generator,
                steps=render_steps,
                requested=requested,
                seed=seed,
            )
            for target in targets[:render_n]
        ]
        render_seconds = (time.perf_counter() - started) / render_n
        report["render_and_score"] = {
            "n": render_n,
            "steps": render_steps,
            "rendered_cosine_start": float(np.mean([r.bootstrap_score for r in runs])),
            "rendered_cosine_end": float(np.mean([r.score for r in runs])),
            "improved": float(np.mean([r.score > r.bootstrap_score + 1e-6 for r in runs])),
            "arith_success": float(np.mean([arith_ok(drawn(renderer, r.text), a, b) for r, (a, b) in zip(runs, pairs, strict=False)])),
        }
    report["speed"] = {
        "bank_top1_seconds_per_case": round(baseline, 6),
        "embedding_mode_vs_bank_top1": round(embedding_seconds / baseline, 1),
        "text_mode_vs_bank_top1": round(text_seconds / baseline, 1),
        "text_vs_embedding_mode": round(text_seconds / embedding_seconds, 2),
    }
    if render_n:
        report["speed"]["render_and_score_vs_bank_top1"] = round(render_seconds / baseline, 1)
    report["examples"] = [
        {
            "case": f"{world.caption(a)} + {world.caption(b)}",
            "embedding": embedding[i].text,
            "text": merged[i].text,
            "text_source": merges[i].source,
        }
        for i, (a, b) in enumerate(pairs[:5])
    ] + [
        {
            "case": f"{world.caption(c)} - {c.objects[0].colour} + {colour}",
            "embedding": embedding[n + i].text,
            "text": merged[n + i].text,
            "text_source": merged[n + i].merge.source,
        }
        for i, (c, colour) in enumerate(analogies[:5])
    ]
    return report
