"""Text -> image with any diffusers text-to-image pipeline: `load_renderer("diffusers:stabilityai/sd-turbo")`.

The argument is a Hugging Face model id or a local folder written by `pipeline.save_pretrained()`.
Defaults are for `stabilityai/sd-turbo` (1 step, no classifier-free guidance, 512x512);
`black-forest-labs/FLUX.1-schnell` also works in 4 steps with guidance 0 (much larger; needs a GPU).
Weights are loaded from safetensors only, in float16 on a GPU and float32 on the CPU.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from ..download import hub_out_of_reach
from ..errors import InputError, RendererError, WeightsNotFoundError
from ..registry import require
from .base import Renderer

DEFAULT_MODEL = "stabilityai/sd-turbo"
# Step counts and guidance these distilled models were trained for; other models get the caller's or 1 / 0.
RECOMMENDED_SETTINGS = {
    "stabilityai/sd-turbo": {"steps": 1, "guidance": 0.0},
    "black-forest-labs/FLUX.1-schnell": {"steps": 4, "guidance": 0.0},
}


class DiffusersRenderer(Renderer):
    """Draws `text` with a diffusers pipeline; a `torch.Generator` seeded with `seed` makes it repeatable."""

    def __init__(
        self,
        pipeline,
        *,
        steps: int = 1,
        guidance: float = 0.0,
        width: int | None = None,
        height: int | None = None,
        spec: str = "diffusers",
    ):
        if steps < 1:
            raise RendererError(f"steps must be at least 1, got {steps}.")
        for side, value in (("width", width), ("height", height)):
            if value is not None and (value < 8 or value % 8):
                raise RendererError(f"{side} must be a multiple of 8 (the VAE's stride), got {value}.")
        self.pipeline = pipeline
        self.steps = steps
        self.guidance = guidance
        self.width = width
        self.height = height
        self.spec = spec
        self.pipeline.set_progress_bar_config(disable=True)

    @classmethod
    def from_pretrained(
        cls,
        model: str = DEFAULT_MODEL,
        *,
        device: str | None = None,
        cache_dir: str | Path | None = None,
        local_files_only: bool = False,
        **settings,
    ) -> DiffusersRenderer:
        """Load `model` (hub id or local folder) with `AutoPipelineForText2Image`; `settings` go to __init__."""
        diffusers = require("diffusers", extra="render", needed_by="the diffusers renderer")
        constants = require("huggingface_hub.constants", extra="render", needed_by="the diffusers renderer")

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # float16 halves memory and time on a GPU; CPUs have no fast float16 kernels.
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        if _looks_like_path(model) and not Path(model).expanduser().is_dir():
            raise WeightsNotFoundError(
                f"diffusers pipeline folder {model} does not exist. Pass a folder written by "
                "`pipeline.save_pretrained()` (it holds model_index.json), or a Hugging Face model id."
            )
        local_files_only = local_files_only or (not _looks_like_path(model) and hub_out_of_reach())
        try:
            pipeline = diffusers.AutoPipelineForText2Image.from_pretrained(
                str(Path(model).expanduser()) if _looks_like_path(model) else model,
                dtype=dtype,
                use_safetensors=True,
                cache_dir=cache_dir,
                local_files_only=local_files_only,
            )
        except OSError as error:
            raise WeightsNotFoundError(
                f"cannot load the diffusers pipeline {model!r}: {error}\n"
                f"Weights are looked up in the Hugging Face cache ({cache_dir or constants.HF_HUB_CACHE}) and "
                "downloaded when online. Fix: download them once on a machine with network access "
                f"(`huggingface-cli download {model}`) and copy the cache, set HF_HUB_OFFLINE=1 to use the "
                "cache without network retries, or pass a local folder: `diffusers:/path/to/pipeline`."
            ) from error
        settings = {**RECOMMENDED_SETTINGS.get(model, {}), **settings}
        return cls(pipeline.to(device), spec=f"diffusers:{model}", **settings)

    def render(self, text: str, *, seed: int = 0) -> Image.Image:
        """An RGB picture of `text`, `width` x `height` (or the pipeline's default size)."""
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"render() takes a non-empty text, got {text!r}.")
        generator = torch.Generator(device=self.pipeline.device).manual_seed(seed)
        result = self.pipeline(
            prompt=text,
            num_inference_steps=self.steps,
            guidance_scale=self.guidance,
            width=self.width,
            height=self.height,
            generator=generator,
        )
        return result.images[0].convert("RGB")


def _looks_like_path(model: str) -> bool:
    # Hub ids are "owner/name" too, so only explicit paths or existing folders count as local.
    return model.startswith(("/", ".", "~")) or Path(model).is_dir()


def load_diffusers(argument: str = DEFAULT_MODEL, **options) -> DiffusersRenderer:
    """Registry factory: `load_renderer("diffusers:MODEL_ID_OR_FOLDER", steps=..., width=..., ...)`."""
    return DiffusersRenderer.from_pretrained(argument, **options)
