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

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import InputError, SpaceError, WeightsNotFoundError
from .base import Space
from .inputs import load_image
from .runtime import TorchRuntime, seeded

RANDOM_PREFIX = "random"


class OpenClipSpace(Space):
    modalities = ("text", "image")

    def __init__(self, spec: str, model, preprocess, tokenizer, dim: int, runtime: TorchRuntime):
        self.spec = spec
        self.dim = dim
        self.runtime = runtime
        self.model = model.to(runtime.device).eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise InputError("embed_text takes a list of strings, not one string. Wrap it: [text].")
        texts = list(texts)
        if not all(isinstance(text, str) for text in texts):
            raise InputError("embed_text takes a list of strings. Convert other values with str().")
        return self.runtime.embed_batches(texts, self.tokenizer, self.model.encode_text, self.dim)

    def _embed_modality(self, modality: str, items: Sequence[Any]) -> np.ndarray:
        if isinstance(items, (str, os.PathLike)):
            raise InputError(f"images must be a list, not one {type(items).__name__}. Wrap it: [item].")
        return self.runtime.embed_batches(list(items), self._image_batch, self.model.encode_image, self.dim)

    def _image_batch(self, items: Sequence[Any]) -> torch.Tensor:
        return torch.stack([self.preprocess(load_image(item)) for item in items])


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
    try:
        import open_clip
    except ImportError as error:
        raise SpaceError("open_clip is not installed. Install it with `pip install 'unembed[clip]'`.") from error
    model_name, _, pretrained = argument.partition("/")
    if model_name not in open_clip.list_models():
        raise SpaceError(
            f"open_clip has no model {model_name!r}. Use 'openclip:MODEL/PRETRAINED', e.g. "
            "'openclip:ViT-SO400M-14-SigLIP/webli'; `open_clip.list_models()` lists the models."
        )
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if pretrained.startswith(RANDOM_PREFIX):
        random_weights = True
        suffix = pretrained[len(RANDOM_PREFIX):]
        if suffix and not (suffix.startswith("-seed") and suffix[5:].isdigit()):
            raise SpaceError(f"cannot read {pretrained!r}; random weights are written 'random' or 'random-seedN'.")
        if suffix and seed is not None and int(suffix[5:]) != seed:
            raise SpaceError(f"the spec says {pretrained!r} but the option says seed {seed}; give one.")
        seed = int(suffix[5:]) if suffix else seed
    elif random_weights and pretrained:
        raise SpaceError(f"random_weights=True and pretrained weights {pretrained!r} exclude each other; give one.")
    elif not random_weights:
        if not pretrained:
            raise SpaceError(
                f"say which weights: 'openclip:{model_name}/TAG' with TAG one of {', '.join(tags) or '(none)'}, "
                f"or a checkpoint file 'openclip:{model_name}//path/to/weights.bin'."
            )
        if pretrained not in tags and not Path(pretrained).is_file():
            if os.sep in pretrained or pretrained.endswith((".bin", ".pt", ".pth", ".safetensors")):
                raise WeightsNotFoundError(f"open_clip checkpoint {pretrained!r} does not exist. Check the path.")
            raise SpaceError(
                f"open_clip has no weights {pretrained!r} for {model_name}; its tags are {', '.join(tags) or '(none)'}. "
                "Pick one, or give a checkpoint file path."
            )
    seed = seed or 0
    runtime = TorchRuntime.create(device, dtype, batch_size)
    try:
        if random_weights:
            with seeded(seed):
                model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=None)
        else:
            model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained)
        tokenizer = open_clip.get_tokenizer(model_name)
    except (RuntimeError, OSError) as error:
        # Offline, open_clip raises RuntimeError (weights) or OSError (SigLIP's HF tokenizer).
        raise WeightsNotFoundError(
            f"open_clip could not load {model_name} {'(random weights)' if random_weights else pretrained!r}: "
            f"{str(error)[:300]}. Offline? open_clip fetches weights and tokenizers from the Hugging Face hub into "
            "~/.cache/huggingface/hub ($HF_HOME/hub): copy that folder from a machine that has them, or give "
            f"a checkpoint file: 'openclip:{model_name}//path/to/open_clip_pytorch_model.bin'."
        ) from error
    dim = int(open_clip.get_model_config(model_name)["embed_dim"])
    spec = f"openclip:{model_name}/{RANDOM_PREFIX}-seed{seed}" if random_weights else f"openclip:{argument}"
    return OpenClipSpace(spec, model, preprocess, tokenizer, dim, runtime)
