"""Text generators that propose candidate texts for the MILS loop, and their registry.

A spec is `NAME[:ARGUMENT][,KEY=VALUE]...` (unembed.registry):
`llama.cpp` (SmolLM2-135M-Instruct, offline), `llama.cpp:/path/model.gguf`,
`transformers:ID_OR_PATH`, `openai:MODEL@http://host:port/v1`, `mutate` and `edit` (no model),
`edit:lexicon` (edit, plus word trades that SmolLM2 judges); options after commas set a generator's
keyword options (`edit,beam=5`, `edit:lexicon,beam=8,judge=/models/qwen.gguf`),
and `A+B` for several at once (their texts pooled every step), e.g. `llama.cpp+mutate`, `edit,beam=5+mutate`.
Backends are imported on first use, so each one's dependencies are needed only when it is used.
"""

from __future__ import annotations

from ..errors import GeneratorError
from ..registry import Registry
from .base import Generator, Proposal, ProposalRequest
from .combined import CombinedGenerator
from .fluency import Fluency, default_fluency
from .parsing import candidate_key, parse_numbered_lines, plain_text

# Where no decoder exists for the space: `edit` composes held-out MiniBind scenes that `llama.cpp+mutate`
# does not, lifts held-out MILS captions further and needs no LLM (docs/benchmarks.md).
DEFAULT_GENERATOR = "edit"
# Where one does: the decoder's sentences, edited by `edit` in the next steps (docs/guides/decoders.md).
DECODER_GENERATOR = "decoder+edit"

GENERATORS: Registry[Generator] = Registry("generator", Generator, GeneratorError)
GENERATORS.register("llama.cpp", "unembed.generators.llama_cpp:load_llama_cpp")
GENERATORS.register("transformers", "unembed.generators.huggingface:load_transformers")
GENERATORS.register("openai", "unembed.generators.openai_compat:load_openai", extra="openai")
GENERATORS.register("mutate", "unembed.generators.mutate:load_mutate")
GENERATORS.register("edit", "unembed.generators.edit:load_edit")
GENERATORS.register("decoder", "unembed.generators.decoder:load_decoder_generator")

register_generator = GENERATORS.register
available_generators = GENERATORS.available


def default_generator(space) -> str:
    """The generator spec the loop uses for `space` when none is given: the space's own choice (`Space.generator`;
    MiniBind's is `edit`), else DECODER_GENERATOR where unembed ships a decoder for the space's text embeddings
    (minilm), else DEFAULT_GENERATOR."""
    from ..decoder import shipped_decoder

    if space.generator is not None:
        return space.generator
    return DECODER_GENERATOR if shipped_decoder(space) is not None else DEFAULT_GENERATOR


def with_timeout(generator: Generator, seconds: float | None) -> Generator:
    """`generator` with its step time budget set (`Generator.set_timeout`); None leaves its own."""
    if seconds is not None:
        generator.set_timeout(seconds)
    return generator


def load_generator(spec: str | Generator, **options) -> Generator:
    """The generator named by `spec`, loaded and checked (model file present, server up); `A+B` pools several."""
    if isinstance(spec, str) and "+" in spec:
        return CombinedGenerator([GENERATORS.load(part, **options) for part in spec.split("+")])
    return GENERATORS.load(spec, **options)


__all__ = [
    "DEFAULT_GENERATOR",
    "DECODER_GENERATOR",
    "default_generator",
    "Generator",
    "GeneratorError",
    "Proposal",
    "ProposalRequest",
    "CombinedGenerator",
    "GENERATORS",
    "load_generator",
    "with_timeout",
    "register_generator",
    "available_generators",
    "Fluency",
    "default_fluency",
    "candidate_key",
    "parse_numbered_lines",
    "plain_text",
]
