"""A trained decoder on disk, loaded: its network, its tokenizer and what it was trained on.

A decoder is a folder: `config.json` (the space and width it decodes, the architecture, and the data,
exclusions, seed and settings it was trained with), `model.safetensors` and `tokenizer.json` (a byte-level
BPE trained on the same captions). `load_decoder(folder, space)` checks each part and says what is wrong.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from tokenizers import Tokenizer

from .. import atomic, jsontext
from ..errors import DecoderError, WeightsNotFoundError
from ..index.sources import warn_licence
from .model import Architecture, DecoderNetwork

CONFIG, WEIGHTS, TOKENIZER = "config.json", "model.safetensors", "tokenizer.json"
FORMAT = 1
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
# Decoders shipped with unembed, one folder per text space (named by the space's `text_tower`).
SHIPPED = files(__package__) / "weights"


class Decoder:
    """`generate(embeddings, count)`: `count` texts per embedding; the first is the greedy one."""

    def __init__(self, network: DecoderNetwork, tokenizer: Tokenizer, config: dict, path: Path | None = None):
        self.network, self.tokenizer, self.config, self.path = network.eval(), tokenizer, config, path
        self.architecture = network.architecture
        self.space = config["space"]
        self.pad, self.bos, self.eos = special_ids(tokenizer)

    def __repr__(self) -> str:
        return f"Decoder(space={self.space!r}, dim={self.architecture.dim}, path={str(self.path)!r})"

    @torch.inference_mode()
    def generate(
        self, embeddings: np.ndarray, count: int, *, temperature: float = 0.8, top_p: float = 0.95, seed: int = 0
    ) -> list[list[str]]:
        """`count` texts for each row of `embeddings` (n, dim): the greedy decoding, then samples (nucleus `top_p`)."""
        rows = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
        if rows.ndim != 2 or rows.shape[1] != self.architecture.dim:
            raise DecoderError(f"this decoder reads {self.architecture.dim}-d embeddings; got shape {tuple(rows.shape)}.")
        generator = torch.Generator().manual_seed(seed)
        batch = rows.repeat_interleave(count, dim=0)
        greedy = torch.zeros(len(batch), dtype=torch.bool)
        greedy[::count] = True
        logits, caches = self.network.start(batch, self.bos)
        tokens = torch.full((len(batch), self.architecture.context), self.pad, dtype=torch.long)
        done = torch.zeros(len(batch), dtype=torch.bool)
        for position in range(self.architecture.context):
            chosen = _pick(logits, temperature, top_p, greedy, generator)
            chosen[done] = self.pad
            tokens[:, position] = chosen
            done |= chosen == self.eos
            if done.all() or position + 1 == self.architecture.context:
                break
            logits = self.network.step(chosen, position + 1, caches)
        texts = self.tokenizer.decode_batch([_until(row, self.eos, self.pad) for row in tokens.tolist()])
        return [[text.strip() for text in texts[start : start + count]] for start in range(0, len(texts), count)]

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the decoder's three files into `folder` (each atomically; weights as float16 to halve the folder)."""
        folder = Path(folder)
        state = {name: tensor.detach().to(torch.float16).contiguous() for name, tensor in self.network.state_dict().items()}
        atomic.write_bytes(folder / WEIGHTS, save(state))
        atomic.write_text(folder / TOKENIZER, self.tokenizer.to_str())
        atomic.write_json(folder / CONFIG, {**self.config, "format": FORMAT, "architecture": self.architecture.to_dict()})
        return folder


def special_ids(tokenizer: Tokenizer) -> tuple[int, int, int]:
    """The ids of <pad>, <bos> and <eos>, which every decoder's tokenizer holds."""
    pad, bos, eos = (tokenizer.token_to_id(token) for token in (PAD, BOS, EOS))
    if pad is None or bos is None or eos is None:
        raise DecoderError(f"the tokenizer lacks {PAD}, {BOS} or {EOS}: it is not a decoder's. Train the decoder again.")
    return pad, bos, eos


def _pick(logits: torch.Tensor, temperature: float, top_p: float, greedy: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    best = logits.argmax(dim=-1)
    if temperature <= 0:
        return best
    probabilities = torch.softmax(logits / temperature, dim=-1)
    ranked, order = probabilities.sort(dim=-1, descending=True)
    # Keep the smallest set of tokens whose probability reaches top_p (the first token always stays).
    ranked[(ranked.cumsum(dim=-1) - ranked) > top_p] = 0
    sampled = order.gather(-1, torch.multinomial(ranked, 1, generator=generator)).squeeze(-1)
    return torch.where(greedy, best, sampled)


def _until(ids: list[int], eos: int, pad: int) -> list[int]:
    return [token for token in (ids[: ids.index(eos)] if eos in ids else ids) if token != pad]


def load_decoder(folder: str | os.PathLike, space=None) -> Decoder:
    """The decoder in `folder`, checked: its files, its format, and (given a Space) that it decodes that space."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsNotFoundError(f"no decoder at {folder}: it is not a folder. Train one with `unembed train-decoder --out {folder}`.")
    missing = [name for name in (CONFIG, WEIGHTS, TOKENIZER) if not (folder / name).is_file()]
    if missing:
        raise WeightsNotFoundError(
            f"the decoder at {folder} has no {', '.join(missing)}. Train it again with `unembed train-decoder --out {folder}` "
            "(an interrupted training resumes)."
        )
    try:
        config = jsontext.parse((folder / CONFIG).read_text(encoding="utf-8"))
        architecture = Architecture(**config["architecture"])
        str(config["space"])  # a config must name its space
    except (ValueError, KeyError, TypeError) as error:
        raise DecoderError(f"{folder / CONFIG} is not a decoder config ({type(error).__name__}: {error}). Train it again.") from error
    if config.get("format") != FORMAT:
        raise DecoderError(f"{folder} holds a decoder of format {config.get('format')!r}; this unembed reads {FORMAT}. Train it again.")
    if space is not None:
        check_space(config, architecture, space, folder)
    try:
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER))
    except Exception as error:  # tokenizers raises a bare Exception for a damaged file
        raise DecoderError(f"{folder / TOKENIZER} is damaged ({error}). Train the decoder again.") from error
    network = DecoderNetwork(architecture)
    try:
        state = load_file(str(folder / WEIGHTS))
        network.load_state_dict({name: tensor.float() for name, tensor in state.items()})
    except (SafetensorError, OSError, RuntimeError) as error:
        raise DecoderError(
            f"{folder / WEIGHTS} is damaged or belongs to another architecture ({type(error).__name__}: {str(error)[:200]}). "
            "Train the decoder again."
        ) from error
    if tokenizer.get_vocab_size() != architecture.vocab:
        tokens = tokenizer.get_vocab_size()
        raise DecoderError(f"{folder}: the tokenizer has {tokens} tokens, the network {architecture.vocab}. Train the decoder again.")
    for source in config.get("data", {}).get("sources", []):
        warn_licence(source)  # a decoder trained on non-commercial captions inherits their licence
    return Decoder(network, tokenizer, config, folder)


def check_space(config: dict, architecture: Architecture, space, folder: Path | None) -> None:
    """A decoder reads the text embeddings of the space it was trained in (or a space that shares them)."""
    if architecture.dim != space.dim:
        raise DecoderError(
            f"the decoder at {folder} reads {architecture.dim}-d embeddings of {config['space']!r}, but space {space.spec!r} "
            f"makes {space.dim}-d ones. Train one for it: `unembed train-decoder --space {space.spec} --out DIR`."
        )
    if config["space"] not in (space.spec, space.text_tower):
        raise DecoderError(
            f"the decoder at {folder} was trained on {config['space']!r} embeddings, not {space.spec!r}'s: its texts would be "
            f"guesses about another space. Train one for it: `unembed train-decoder --space {space.spec} --out DIR`."
        )


def shipped_decoder(space) -> Path | None:
    """The folder of the decoder unembed ships for `space`'s text embeddings, or None."""
    folder = Path(str(SHIPPED / space.text_tower))
    return folder if (folder / CONFIG).is_file() else None


__all__ = ["Decoder", "load_decoder", "shipped_decoder", "check_space"]
