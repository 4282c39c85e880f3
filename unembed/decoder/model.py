"""The decoder network: an embedding becomes a few prefix vectors that a small causal transformer continues.

    prefix   <- MLP(embedding) reshaped to `prefix` vectors of width `width`      (ClipCap's mapping)
    tokens   <- [prefix, <bos>, t1, t2, ...] through `layers` pre-norm blocks     (GPT-2's shape)
    logits   <- the blocks' output times the token embedding (tied)

It is trained from scratch (unembed.decoder.training) rather than on top of a frozen SmolLM2, because a
step of SmolLM2 costs ~20 s on 2 cores (docs/decoder.md). `generate` decodes a batch with a key/value
cache, so a token costs one position's work, not the whole prefix's again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class Architecture:
    """The network's shape; saved in the decoder's config.json and checked when it is loaded."""

    dim: int  # the space's embedding width
    vocab: int  # the tokenizer's vocabulary, special tokens included
    width: int = 256
    layers: int = 4
    heads: int = 4
    prefix: int = 4  # prefix vectors the embedding becomes
    context: int = 48  # the longest token sequence (prefix excluded)

    def to_dict(self) -> dict:
        return asdict(self)


class _Block(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.attention_norm = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(self.attention_norm(x)).split(width, dim=2)
        q, k, v = (t.view(batch, length, self.heads, width // self.heads).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            if cache:  # earlier positions' keys and values: only the new position is computed
                k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
            cache[:] = [k, v]
        # With a cache the new positions attend to every earlier one; a whole sequence attends causally.
        causal = cache is None or length > 1
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=self.dropout.p if self.training else 0.0)
        x = x + self.dropout(self.out(attended.transpose(1, 2).reshape(batch, length, width)))
        return x + self.dropout(self.mlp(self.mlp_norm(x)))


class DecoderNetwork(nn.Module):
    def __init__(self, architecture: Architecture, dropout: float = 0.0):
        super().__init__()
        a = self.architecture = architecture
        self.mapping = nn.Sequential(nn.Linear(a.dim, a.width * 2), nn.GELU(), nn.Linear(a.width * 2, a.width * a.prefix))
        self.tokens = nn.Embedding(a.vocab, a.width)
        self.positions = nn.Embedding(a.prefix + a.context + 1, a.width)
        self.blocks = nn.ModuleList(_Block(a.width, a.heads, dropout) for _ in range(a.layers))
        self.norm = nn.LayerNorm(a.width)
        self.apply(_initialise)

    def prefix(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.mapping(embeddings).view(len(embeddings), self.architecture.prefix, self.architecture.width)

    def forward(self, embeddings: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Next-token logits (batch, tokens' length, vocab) for each position of `tokens` (which start with <bos>)."""
        x = torch.cat([self.prefix(embeddings), self.tokens(tokens)], dim=1)
        x = x + self.positions.weight[: x.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.norm(x[:, self.architecture.prefix :]) @ self.tokens.weight.T

    def start(self, embeddings: torch.Tensor, bos: int) -> tuple[torch.Tensor, list[list]]:
        """The first token's logits, and the key/value cache `step` continues from."""
        caches: list[list] = [[] for _ in self.blocks]
        first = torch.full((len(embeddings), 1), bos, dtype=torch.long, device=embeddings.device)
        x = torch.cat([self.prefix(embeddings), self.tokens(first)], dim=1)
        x = x + self.positions.weight[: x.shape[1]]
        for block, cache in zip(self.blocks, caches, strict=True):
            x = block(x, cache)
        return self.norm(x[:, -1]) @ self.tokens.weight.T, caches

    def step(self, tokens: torch.Tensor, position: int, caches: list[list]) -> torch.Tensor:
        """The logits after `tokens` (batch,), the token at sequence position `position` (0 is <bos>)."""
        x = self.tokens(tokens[:, None]) + self.positions.weight[self.architecture.prefix + position]
        for block, cache in zip(self.blocks, caches, strict=True):
            x = block(x, cache)
        return self.norm(x[:, -1]) @ self.tokens.weight.T


def _initialise(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
