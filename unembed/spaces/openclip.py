"""CLIP-family spaces through open_clip: `openclip:MODEL/PRETRAINED`, text and images.

MODEL is an open_clip model name and PRETRAINED one of its tags or a checkpoint file, e.g.
`openclip:ViT-SO400M-14-SigLIP/webli` (MILS's image scorer) or `openclip:ViT-B-32//data/clip.bin`.
Weights, and for SigLIP models the tokenizer, come through open_clip's own loading from the
Hugging Face hub cache (~/.cache/huggingface/hub, or $HF_HOME/hub). Images are preprocessed with the
transform open_clip returns for the model, so the preprocessing is the model's by construction.
`random_weights=True` builds the architecture with seeded random weights
(spec `openclip:MODEL/random-seedN`), for tests and benchmarks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SpaceError, WeightsNotFoundError
from ..registry import require
from .base import Space
from .inputs import load_image
from .runtime import TorchRuntime, read_random_weights, seeded


class OpenClipSpace(Space):
    modalities = ("text", "image")
    runtime: TorchRuntime

    def __init__(self, spec: str, model, preprocess, tokenizer, dim: int, runtime: TorchRuntime, batch_size: int):
        self.spec = spec
        self.dim = dim
        self.runtime = runtime
        self.batch_size = batch_size
        self.model = model.to(runtime.device).eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer

    def _encode(self, modality: str, batch: list[Any]) -> np.ndarray:
        if modality == "text":
            return self.runtime.run(self.model.encode_text, self.tokenizer(batch))
        pixels = torch.stack([self.preprocess(load_image(item)) for item in batch])
        return self.runtime.run(self.model.encode_image, pixels)


def load_openclip(
    argument: str,
    *,
    random_weights: bool = False,
    seed: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int = 32,
) -> OpenClipSpace:
    """`openclip:MODEL/PRETRAINED` (a tag or a checkpoint path) or `openclip:MODEL/random-seedN`."""
    open_clip = require("open_clip", extra="clip", needed_by="space 'openclip'")
    model_name, _, pretrained = argument.partition("/")
    if model_name not in open_clip.list_models():
        raise SpaceError(
            f"open_clip has no model {model_name!r}. Use 'openclip:MODEL/PRETRAINED', e.g. "
            "'openclip:ViT-SO400M-14-SigLIP/webli'; `open_clip.list_models()` lists the models."
        )
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if random_weights and pretrained and not pretrained.startswith("random"):
        raise SpaceError(f"random_weights=True and pretrained weights {pretrained!r} exclude each other; give one.")
    random = read_random_weights(pretrained or ("random" if random_weights else ""), seed=seed)
    if random is None:
        if not pretrained:
            raise SpaceError(
                f"say which weights: 'openclip:{model_name}/TAG' with TAG one of {', '.join(tags) or '(none)'}, "
                f"or a checkpoint file 'openclip:{model_name}//path/to/weights.bin'."
            )
        if pretrained not in tags and not Path(pretrained).is_file():
            if "/" in pretrained or pretrained.endswith((".bin", ".pt", ".pth", ".safetensors")):
                raise WeightsNotFoundError(f"open_clip checkpoint {pretrained!r} does not exist. Check the path.")
            raise SpaceError(
                f"open_clip has no weights {pretrained!r} for {model_name}; its tags are {', '.join(tags) or '(none)'}. "
                "Pick one, or give a checkpoint file path."
            )
    runtime = TorchRuntime.create(device, dtype)
    try:
        if random is not None:
            with seeded(random.seed):
                model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=None)
        else:
            model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained)
        tokenizer = open_clip.get_tokenizer(model_name)
    except (RuntimeError, OSError) as error:
        # Offline, open_clip raises RuntimeError (weights) or OSError (SigLIP's HF tokenizer).
        raise WeightsNotFoundError(
            f"open_clip could not load {model_name} {'(random weights)' if random else pretrained!r}: "
            f"{str(error)[:300]}. Offline? open_clip fetches weights and tokenizers from the Hugging Face hub into "
            "~/.cache/huggingface/hub ($HF_HOME/hub): copy that folder from a machine that has them, or give "
            f"a checkpoint file: 'openclip:{model_name}//path/to/open_clip_pytorch_model.bin'."
        ) from error
    dim = int(open_clip.get_model_config(model_name)["embed_dim"])
    spec = f"openclip:{model_name}/{random.spec}" if random else f"openclip:{argument}"
    return OpenClipSpace(spec, model, preprocess, tokenizer, dim, runtime, batch_size)
