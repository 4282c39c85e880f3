"""Text generators that propose candidate texts for the MILS loop, and their registry.

A spec is `NAME` or `NAME:ARGUMENT`:
`llama.cpp` (SmolLM2-135M-Instruct, offline), `llama.cpp:/path/model.gguf`,
`transformers:ID_OR_PATH`, `openai:MODEL@http://host:port/v1`, `mutate` (no model),
and `A+B` for several at once (their texts pooled every step), e.g. `llama.cpp+mutate`.
Backends are imported lazily so each one's dependencies are needed only when it is used.
"""

from __future__ import annotations

import importlib

from ..errors import GeneratorError
from .base import Generator, Proposal, ProposalRequest

# Measured on held-out mils-image captions (README): SmolLM2 alone lifts few targets over the
# bank's best; pooled with `mutate` under the loop's fluency gate it lifts most, with fluent text.
DEFAULT_GENERATOR = "llama.cpp+mutate"

_BUILTIN = {
    "llama.cpp": "unembed.generators.llama_cpp:load_llama_cpp",
    "transformers": "unembed.generators.huggingface:load_transformers",
    "openai": "unembed.generators.openai_compat:load_openai",
    "mutate": "unembed.generators.mutate:load_mutate",
}


def available_generators() -> list[str]:
    return sorted(_BUILTIN)


def load_generator(spec: str | Generator, **options) -> Generator:
    """The generator named by `spec`, loaded and checked (model file present, server up)."""
    if not isinstance(spec, str):
        if not isinstance(spec, Generator):
            raise GeneratorError(
                f"{type(spec).__name__} is not a generator: it needs a `spec` and a `propose(requests)` method."
            )
        return spec
    if "+" in spec:
        from .combined import CombinedGenerator

        return CombinedGenerator([load_generator(part, **options) for part in spec.split("+")])
    name, _, argument = spec.partition(":")
    if name not in _BUILTIN:
        raise GeneratorError(f"unknown generator {spec!r}. Known: {', '.join(available_generators())}.")
    module_name, attribute = _BUILTIN[name].split(":")
    return getattr(importlib.import_module(module_name), attribute)(argument, **options)


__all__ = ["DEFAULT_GENERATOR", "Generator", "Proposal", "ProposalRequest", "load_generator", "available_generators"]
