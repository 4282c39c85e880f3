"""openclip:MODEL/PRETRAINED on a real open_clip architecture with seeded random weights.

The model is open_clip's CLIP (VisionTransformer + TextTransformer) at reduced widths, registered
through open_clip's own add_model_config, so the tests run in seconds on a shared CPU.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from unembed import InputError, SpaceError, WeightsNotFoundError, load_space

open_clip = pytest.importorskip("open_clip")


MODEL = "unembed-test-tiny-vit"


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    config = {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "head_width": 32, "patch_size": 32},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
    }
    path = tmp_path_factory.mktemp("open_clip_config") / f"{MODEL}.json"
    path.write_text(json.dumps(config))
    open_clip.add_model_config(path)
    return load_space(f"openclip:{MODEL}", random_weights=True, batch_size=2)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((120, 200, 3), (300, 180, 3), (64, 64, 3))]


def test_embeddings_equal_open_clips_own_pipeline(space, images):
    """Images through open_clip's transform and encode_image, texts through its tokenizer and encode_text."""
    from PIL import Image

    with torch.inference_mode():
        image_features = space.model.encode_image(torch.stack([space.preprocess(Image.fromarray(a)) for a in images]))
        text_features = space.model.encode_text(open_clip.get_tokenizer(MODEL)(["a dog", "a red car"]))
    for vectors, expected in ((space.embed("image", images), image_features), (space.embed_text(["a dog", "a red car"]), text_features)):
        expected = torch.nn.functional.normalize(expected, dim=-1).numpy()
        assert vectors.shape == expected.shape and vectors.shape[1] == space.dim == 32
        np.testing.assert_allclose(vectors, expected, atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batch_invariant_deterministic_and_distinct_spec(space, images):
    assert space.spec == f"openclip:{MODEL}/random-seed0"
    again = load_space(space.spec, batch_size=16)
    np.testing.assert_allclose(again.embed("image", images), np.concatenate([space.embed("image", [i]) for i in images]), atol=1e-5)
    texts = ["a dog", "rain on a roof", "an engine idling"]
    np.testing.assert_allclose(again.embed_text(texts), np.concatenate([space.embed_text([t]) for t in texts]), atol=1e-5)
    other = load_space(f"openclip:{MODEL}/random-seed1")
    assert np.abs(other.embed_text(["a dog"]) - space.embed_text(["a dog"])).max() > 1e-2


def test_refuses_audio_and_bad_inputs(space):
    with pytest.raises(SpaceError, match="cannot embed 'audio'"):
        space.embed("audio", ["a.wav"])
    with pytest.raises(InputError, match=r"\[text\]"):
        space.embed_text("a dog")
    with pytest.raises(InputError, match="Channels go last"):
        space.embed("image", [np.zeros((3, 8, 8), np.uint8)])


def test_spec_errors_name_the_fix():
    with pytest.raises(SpaceError, match="open_clip has no model"):
        load_space("openclip:NoSuchNet/x")
    with pytest.raises(SpaceError, match="say which weights.*laion2b_s34b_b79k"):
        load_space("openclip:ViT-B-32")
    with pytest.raises(SpaceError, match="has no weights 'webli' for ViT-B-32"):
        load_space("openclip:ViT-B-32/webli")
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        load_space("openclip:ViT-B-32//no/such/weights.bin")


@pytest.mark.slow
def test_offline_pretrained_weights_raise_weights_not_found(tmp_path):
    """In a fresh process with an empty HF cache and the hub offline, as on a machine without network."""
    code = (
        "from unembed import load_space, WeightsNotFoundError\n"
        "try:\n    load_space('openclip:ViT-B-32/openai')\n"
        "except WeightsNotFoundError as error:\n    print('WeightsNotFoundError:', error)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "WeightsNotFoundError:" in result.stdout and "huggingface" in result.stdout
