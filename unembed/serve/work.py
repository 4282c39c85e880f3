"""The web app's three jobs, on a worker thread: invert an input, combine terms, explain a direction or a group.

Each takes its page's form (uploads already stored and size-checked by the app) and the server's Models, reports
what happens as events (`job.emit`), calls `job.check()` after every step of the loop (cancel and deadline), and
returns its result event. Events are plain JSON: the page draws them, and the test reads them the same way.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..arithmetic import DEFAULT_REQUESTED, DEFAULT_STEPS, MODES, Term, arith, draw, embed_terms, for_display, text, vector
from ..errors import InputError, UnembedError
from ..explain import bank_baseline, explain, group_objective
from ..index import Bank
from ..inverter import StepRecord, invert
from ..objectives import load_objective
from ..spaces import Space
from ..vectors import load_vectors
from .jobs import Job
from .models import Models
from .uploads import check_texts, check_upload, embed_upload

SHOWN = 8  # candidates listed per step on the page


@dataclass
class Upload:
    name: str  # as the visitor's file was called
    path: Path  # the server's stored copy


@dataclass
class Choices:
    """What a page picks among the server's offers, and the loop's length and seed (invert and explain)."""

    space: str = ""
    bank: str = ""
    generator: str = ""
    steps: int | None = None
    seed: int = 0


@dataclass
class InvertForm(Choices):
    text: str = ""
    upload: Upload | None = None


@dataclass
class TermField:
    """One term of a combination: a weight (its sign included) and a text or an upload."""

    weight: float
    text: str = ""
    upload: Upload | None = None


@dataclass
class ArithForm:
    space: str = ""
    generator: str = ""
    seed: int = 0
    terms: list[TermField] = field(default_factory=list)


@dataclass
class ExplainForm(Choices):
    positive: list[Upload] = field(default_factory=list)
    positive_texts: list[str] = field(default_factory=list)
    negative: list[Upload] = field(default_factory=list)
    negative_texts: list[str] = field(default_factory=list)
    direction: Upload | None = None


def run_invert(form: InvertForm, models: Models, job: Job) -> dict:
    """Invert one picture, sound, vector or text; each step as an event (the page plots them); the result with its JSON."""
    space = models.space(form.space)
    if (form.upload is not None) == bool(form.text.strip()):
        raise InputError("give one thing to invert: a picture, a sound or a .npy vector, or a text.")
    if form.upload is not None:
        modality, embedding = embed_upload(form.upload.path, form.upload.name, space, models.settings.limits)
        modality = "image" if modality == "vector" else modality  # a bare vector is read with the picture prompt, as the CLI does
    else:
        [sentence] = check_texts([form.text], "the text", models.settings.limits)
        modality, embedding = "text", space.embed_text([sentence])[0]
    result = invert(embedding, **_loop(form, models, job, space, modality, {"modality": modality}), modality=modality)
    return {
        "type": "result",
        "text": result.text,
        "score": result.score,
        "bank_text": result.bootstrap_text,
        "bank_score": result.bootstrap_score,
        "json": result.to_json() + "\n",  # what `unembed invert --json` writes
    }


def run_arith(form: ArithForm, models: Models, job: Job) -> dict:
    """Combine the terms in both modes (embedding and text), say each in words and draw it."""
    space = models.space(form.space)
    terms = _terms(form.terms, space, models)
    generator_spec = models.generator_spec(form.generator, space)
    for mode in MODES:
        job.check()
        try:
            # The merging LLM is loaded for the mode that merges: embedding mode works where none is installed.
            merging = {"merge_generator": models.generator(models.settings.merge_generator)} if mode == "text" else {}
            result = arith(
                terms,
                space=space,
                mode=mode,
                bank=models.bank(space, "", "image") if mode == "embedding" else None,
                generator=models.generator(generator_spec),
                steps=DEFAULT_STEPS,
                requested=DEFAULT_REQUESTED,
                seed=form.seed,
                timeout=models.settings.timeout,
                cache=models.cache(space),
                on_step=lambda step, records: job.check(),
                **merging,
            )
            job.check()
            drawing = draw(result, space, renderer=models.renderer(space), seed=form.seed)
        except UnembedError as error:  # one mode failing (no LLM to merge) leaves the other's answer on the page
            job.emit({"type": "mode", "mode": mode, "error": str(error)})
            continue
        job.emit(
            {
                "type": "mode",
                "mode": mode,
                "expression": result.expression,
                "text": result.text,
                "score": result.score,
                "parts": [{"weight": weight, "text": part} for weight, part in result.parts],
                "prompt": drawing.prompt,
                "rendered_cosine": drawing.rendered_cosine,
                "picture": _png(for_display(drawing.picture)),
            }
        )
    return {"type": "result"}


def run_explain(form: ExplainForm, models: Models, job: Job) -> dict:
    """What a direction (.npy) or two groups of inputs (or one group) mean: the loop's words beside the bank's."""
    space = models.space(form.space)
    bank = models.bank(space, form.bank, "image")
    groups = form.positive or form.positive_texts or form.negative or form.negative_texts
    if (form.direction is not None) == bool(groups):
        raise InputError("give either a direction (.npy) or examples: positive ones, and negative ones for a direction between them.")
    if form.direction is not None:
        _, direction = embed_upload(form.direction.path, form.direction.name, space, models.settings.limits)
        objective = load_objective("direction:centred", direction=direction, baseline=bank_baseline(bank, space), space=space.spec)
    else:
        positive = _group(form.positive, check_texts(form.positive_texts, "the positive texts", models.settings.limits), space, models)
        negative = _group(form.negative, check_texts(form.negative_texts, "the negative texts", models.settings.limits), space, models)
        objective = group_objective(positive, negative, baseline=bank_baseline(bank, space) if len(negative) else None)
    [explanation] = explain(objective, **_loop(form, models, job, space, "image", {"objective": objective.spec}))
    return {"type": "result", **explanation.to_dict()}


def _loop(form: Choices, models: Models, job: Job, space: Space, modality: str, shown: dict) -> dict:
    """The loop's settings from a page's choices (invert and explain), each step reported to the page; what the job
    runs with is reported first (`shown`: what it reads, beside the space, bank and generator)."""
    spec = models.generator_spec(form.generator, space)
    bank = models.bank(space, form.bank, modality)
    job.emit({"type": "input", **shown, "space": space.spec, "bank": _bank_label(form.bank, space, modality, bank), "generator": spec})
    return dict(
        space=space,
        bank=bank,
        generator=models.generator(spec),
        cache=models.cache(space),
        steps=_steps(form.steps, models),
        seed=form.seed,
        timeout=models.settings.timeout,
        on_step=lambda step, records: _report_step(job, records[0]),
    )


def _report_step(job: Job, record: StepRecord) -> None:
    job.check()
    kept = set(record.admitted)
    job.emit(
        {
            "type": "step",
            "step": record.step,
            "best_text": record.best_text,
            "best_score": record.best_score,
            "scored": record.scored if record.step else len(record.candidates),
            "kept": len(kept),
            "candidates": [{"score": score, "text": text, "kept": text in kept} for score, text in record.candidates[:SHOWN]],
        }
    )


def _bank_label(choice: str, space: Space, modality: str, bank: Bank) -> str:
    return f"{choice or space.caption_source(modality)} ({len(bank):,} captions)"


def _steps(steps: int | None, models: Models) -> int | None:
    most = models.settings.max_steps
    if steps is not None and not 0 <= steps <= most:
        raise InputError(f"steps must be between 0 and {most} on this server; got {steps}.")
    return steps


def _terms(fields: list[TermField], space: Space, models: Models) -> list[Term]:
    if not fields:
        raise InputError("the combination is empty. Add at least one term: a picture, a sound, a vector or a text.")
    terms = []
    for place, each in enumerate(fields, start=1):
        if (each.upload is not None) == bool(each.text.strip()):
            raise InputError(f"term {place} needs one thing: a file or a text.")
        if each.upload is None:
            [words] = check_texts([each.text], f"term {place}", models.settings.limits)
            terms.append(text(words, each.weight))
            continue
        modality = check_upload(each.upload.path, each.upload.name, models.settings.limits)
        # Pictures and sounds by their stored path (labelled with the visitor's file name), embedded by arith.
        if modality == "vector":
            terms.append(vector(load_vectors(each.upload.path), each.weight))
        else:
            terms.append(Term(each.weight, each.upload.path, modality))
    return terms


def _group(uploads: list[Upload], texts: list[str], space: Space, models: Models) -> np.ndarray:
    rows = [embed_upload(each.path, each.name, space, models.settings.limits)[1] for each in uploads]
    items = [text(line.strip()) for line in texts if line.strip()]
    if items:
        rows.extend(embed_terms(items, space))
    return np.stack(rows) if rows else np.zeros((0, space.dim), np.float32)


def _png(image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
