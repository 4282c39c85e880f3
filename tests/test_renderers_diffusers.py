"""The diffusers renderer, on a tiny Stable Diffusion pipeline with random weights written to disk.

Nothing is downloaded: the pipeline is assembled from small configs, saved with `save_pretrained`,
and loaded back through `load_renderer("diffusers:FOLDER")` like a user's local model.
"""

import json

import numpy as np
import pytest

from unembed.errors import WeightsNotFoundError
from unembed.renderers import Renderer, load_renderer


def _write_tiny_clip_tokenizer(folder):
    """A byte-level CLIP BPE vocabulary with no merges: every character is its own token."""
    from tokenizers.pre_tokenizers import ByteLevel

    characters = sorted(ByteLevel.alphabet())
    tokens = characters + [c + "</w>" for c in characters] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return len(tokens)


@pytest.fixture(scope="module")
def tiny_pipeline_folder(tmp_path_factory):
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny-sd")
    vocabulary = folder / "vocabulary"
    vocabulary.mkdir()
    vocab_size = _write_tiny_clip_tokenizer(vocabulary)
    tokenizer = CLIPTokenizer.from_pretrained(vocabulary, model_max_length=16)
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=16,
            bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=4, norm_num_groups=4,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=4,
    )
    pipeline = StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=EulerDiscreteScheduler(steps_offset=1),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    out = folder / "pipeline"
    pipeline.save_pretrained(out, safe_serialization=True)
    return out


@pytest.fixture(scope="module")
def renderer(tiny_pipeline_folder):
    return load_renderer(f"diffusers:{tiny_pipeline_folder}", device="cpu", steps=2, width=32, height=48)


def test_renders_a_seeded_picture_of_the_asked_size_from_a_saved_pipeline(renderer, tiny_pipeline_folder):
    assert isinstance(renderer, Renderer)
    assert renderer.spec == f"diffusers:{tiny_pipeline_folder}"
    assert not list(tiny_pipeline_folder.rglob("*.bin")), "weights must be written and read as safetensors"
    picture = renderer.render("a red circle", seed=3)
    assert picture.mode == "RGB" and picture.size == (32, 48)
    pixels = np.asarray(picture)
    assert pixels.std() > 0, "a random-weight pipeline still draws noise, not a flat image"
    assert np.array_equal(pixels, np.asarray(renderer.render("a red circle", seed=3)))
    assert not np.array_equal(pixels, np.asarray(renderer.render("a red circle", seed=4)))


def test_default_size_comes_from_the_pipeline(tiny_pipeline_folder):
    renderer = load_renderer(f"diffusers:{tiny_pipeline_folder}", device="cpu")
    # UNet sample size 16 latents x VAE stride 2 (two blocks) = 32 pixels.
    assert renderer.render("a blue square", seed=0).size == (32, 32)


def test_missing_folder_and_uncached_offline_model_raise_weights_not_found(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        load_renderer(f"diffusers:{tmp_path / 'no-such-pipeline'}")
    with pytest.raises(WeightsNotFoundError, match="HF_HUB_OFFLINE=1") as caught:
        load_renderer("diffusers:stabilityai/sd-turbo", cache_dir=tmp_path, local_files_only=True)
    assert str(tmp_path) in str(caught.value)
