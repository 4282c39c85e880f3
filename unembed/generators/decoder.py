"""`decoder[:DIR]`: texts written by a decoder trained on the space's text embeddings (unembed.decoder).

Each request's target embedding is decoded `requested` times: the greedy text and nucleus samples.
Once the loop has kept a candidate, half the samples are instead conditioned on the target pushed away
from the best candidate's embedding (target + `recondition` x (target - best), normalised): vec2text's
idea of correcting by the gap, without training a corrector, since the decoder reads the direction
the best text still misses. Without DIR, the decoder unembed ships for the space is used
(`unembed.decoder.shipped_decoder`); the space is known when the loop attaches the generator to it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from ..errors import GeneratorError
from .base import Generator, Proposal, ProposalRequest


class DecoderGenerator(Generator):
    def __init__(self, spec: str, folder: str | None, *, temperature: float = 0.8, top_p: float = 0.95, recondition: float = 0.5):
        self.spec, self.folder = spec, folder
        self.temperature, self.top_p, self.recondition = float(temperature), float(top_p), float(recondition)
        self.decoder = None
        if folder is not None:
            from ..decoder import load_decoder

            self.decoder = load_decoder(folder)

    def attach(self, space) -> None:
        from ..decoder import load_decoder, shipped_decoder
        from ..decoder.decoder import check_space

        if self.decoder is not None:
            check_space(self.decoder.config, self.decoder.architecture, space, self.decoder.path)
            return
        folder = shipped_decoder(space)
        if folder is None:
            raise GeneratorError(
                f"generator 'decoder' has no decoder for space {space.spec!r}: unembed ships one for minilm (which minibind reads). "
                f"Train one with `unembed train-decoder --space {space.spec} --from CAPTIONS --out DIR`, then use decoder:DIR."
            )
        self.decoder = load_decoder(folder, space)

    def propose(self, requests: Sequence[ProposalRequest]) -> list[Proposal]:
        if self.decoder is None:
            raise GeneratorError("generator 'decoder' is not attached to a space: invert_many attaches it; call .attach(space) first.")
        return [self._propose_one(request) for request in requests]

    def _propose_one(self, request: ProposalRequest) -> Proposal:
        assert self.decoder is not None
        started = time.perf_counter()
        if request.target is None:
            return Proposal(texts=[], error="the decoder needs the target embedding; this request carries none")
        target = np.asarray(request.target, dtype=np.float32)[None]
        count = max(request.requested, 1)
        conditions = [(target, count)]
        if self.recondition and request.candidates and request.embed is not None and count > 1:
            best = request.embed([request.candidates[0][1]])[0]
            pushed = target[0] + self.recondition * (target[0] - best)
            conditions = [(target, count - count // 2), ((pushed / np.linalg.norm(pushed))[None].astype(np.float32), count // 2)]
        texts: list[str] = []
        for offset, (vector, n) in enumerate(conditions):
            texts += self.decoder.generate(vector, n, temperature=self.temperature, top_p=self.top_p, seed=request.seed * 2 + offset)[0]
        return Proposal(texts=list(dict.fromkeys(text for text in texts if text)), seconds=time.perf_counter() - started)


def load_decoder_generator(argument: str = "", **options) -> DecoderGenerator:
    from ..registry import format_spec

    return DecoderGenerator(format_spec("decoder", argument, options), argument or None, **options)
