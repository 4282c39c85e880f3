"""How torch-backed spaces run a model (device, autocast dtype, inference mode) and how a spec asks
for seeded random weights (`random-SIZE-seedN`, the same grammar in every space that has them)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import SpaceError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
RANDOM = "random"


@dataclass(frozen=True)
class TorchRuntime:
    """Weights stay float32; `dtype` float16/bfloat16 runs the forward pass under autocast."""

    device: torch.device
    dtype: str

    @classmethod
    def create(cls, device: str | torch.device | None = None, dtype: str | None = None):
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = dtype or ("float16" if device.type == "cuda" else "float32")
        if dtype not in DTYPES:
            raise SpaceError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}. Pick one of those.")
        return cls(device, dtype)

    def autocast(self):
        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.dtype])

    def run(self, forward: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor) -> np.ndarray:
        """`forward(inputs)` on the device, in inference mode and the runtime's dtype, as float32 rows."""
        with torch.inference_mode(), self.autocast():
            return forward(inputs.to(self.device)).float().cpu().numpy()


@dataclass(frozen=True)
class RandomWeights:
    """Seeded random weights of an architecture, written `random[-SIZE][-seedN]` in a spec."""

    size: str | None
    seed: int

    @property
    def spec(self) -> str:
        return "-".join(filter(None, (RANDOM, self.size, f"seed{self.seed}")))


def read_random_weights(text: str, *, sizes=(), seed: int | None = None, size: str | None = None) -> RandomWeights | None:
    """The RandomWeights that `text` (`random-tiny-seed3`) asks for, or None when it does not start with `random`.

    `seed`/`size` given as options must agree with the text; `sizes` are the names a size may take.
    """
    parts = text.split("-") if text else []
    if parts[:1] != [RANDOM]:
        return None
    parsed_size, parsed_seed = None, None
    for part in parts[1:]:
        if part in sizes:
            parsed_size = part
        elif part.startswith("seed") and part[4:].isdigit():
            parsed_seed = int(part[4:])
        else:
            sizes_text = f"[-SIZE] with SIZE one of {', '.join(sizes)}" if sizes else ""
            raise SpaceError(f"cannot read {text!r}: random weights are written 'random{sizes_text}[-seedN]'.")
    for name, from_text, from_option in (("size", parsed_size, size), ("seed", parsed_seed, seed)):
        if from_text is not None and from_option is not None and from_text != from_option:
            raise SpaceError(f"the spec says {name} {from_text!r} but the option says {from_option!r}; give one.")
    return RandomWeights(parsed_size or size, parsed_seed if parsed_seed is not None else (seed or 0))


@contextlib.contextmanager
def seeded(seed: int):
    """Random weights drawn from `seed` (on CPU) without touching the caller's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
