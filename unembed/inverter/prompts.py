"""MILS's prompt templates, one per modality (package data in inverter/prompts/)."""

from __future__ import annotations

from importlib.resources import files


def load_template(modality: str) -> str:
    return files("unembed.inverter").joinpath("prompts", f"{modality}.txt").read_text(encoding="utf-8")


def fill_template(template: str, candidates: list[tuple[float, str]], max_words: int) -> str:
    """The prompt with `score: text` lines, best first; `{requested}` stays open for the generator."""
    lines = "\n".join(f"{score:.3f}: {text}" for score, text in candidates)
    return template.replace("{descriptions}", lines).replace("{max_words}", str(max_words))
