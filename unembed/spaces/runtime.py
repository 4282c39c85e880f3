"""How torch-backed spaces run a model: device, autocast dtype, batching, inference mode."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import SpaceError
from .base import normalise_rows

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class TorchRuntime:
    """Weights stay float32; `dtype` float16/bfloat16 runs the forward pass under autocast."""

    device: torch.device
    dtype: str
    batch_size: int

    @classmethod
    def create(cls, device: str | torch.device | None = None, dtype: str | None = None, batch_size: int = 32):
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = dtype or ("float16" if device.type == "cuda" else "float32")
        if dtype not in DTYPES:
            raise SpaceError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}. Pick one of those.")
        if int(batch_size) < 1:
            raise SpaceError(f"batch_size must be at least 1; got {batch_size}.")
        return cls(device, dtype, int(batch_size))

    def autocast(self):
        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.dtype])

    def embed_batches(
        self,
        items: Sequence,
        prepare: Callable[[Sequence], torch.Tensor],
        forward: Callable[[torch.Tensor], torch.Tensor],
        dim: int,
    ) -> np.ndarray:
        """`forward(prepare(batch))` over batches of `items`, as float32 unit rows."""
        if not items:
            return np.zeros((0, dim), dtype=np.float32)
        outputs = []
        for start in range(0, len(items), self.batch_size):
            inputs = prepare(items[start : start + self.batch_size]).to(self.device)
            with torch.inference_mode(), self.autocast():
                outputs.append(forward(inputs).float().cpu())
        return normalise_rows(torch.cat(outputs).numpy())


@contextlib.contextmanager
def seeded(seed: int):
    """Random weights drawn from `seed` (on CPU) without touching the caller's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
