import numpy as np
import pytest

from unembed import InputError, SpaceError, load_space
from unembed.spaces import Space, available_spaces, register_space


def test_minilm_embeds_unit_rows_that_rank_paraphrases_above_unrelated_text(minilm):
    vectors = minilm.embed_text(["a dog runs on the beach", "a puppy playing by the sea", "a spreadsheet of tax figures"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    assert minilm.embed("text", ["x"]).shape == (1, 384)


def test_minilm_is_batch_invariant(minilm):
    texts = ["rain on a tin roof", "a red circle", "an engine idling"]
    together = minilm.embed_text(texts)
    alone = np.concatenate([minilm.embed_text([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_text_only_space_refuses_other_modalities(minilm):
    with pytest.raises(SpaceError, match="cannot embed 'image'"):
        minilm.embed("image", ["photo.png"])


def test_embed_text_refuses_a_bare_string(minilm):
    with pytest.raises(InputError, match=r"\[text\]"):
        minilm.embed_text("just one string")


def test_unknown_space_names_the_known_ones():
    with pytest.raises(SpaceError, match="minilm"):
        load_space("no-such-space")


def test_registered_space_is_loaded_by_name(minilm):
    class Reversed(Space):
        spec, dim, modalities = "reversed", 384, ("text",)

        def _encode(self, modality, batch):
            return minilm.embed_text([t[::-1] for t in batch])

    register_space("reversed", lambda argument, **options: Reversed())
    assert "reversed" in available_spaces()
    space = load_space("reversed")
    np.testing.assert_allclose(space.embed_text(["abc"]), minilm.embed_text(["cba"]), atol=1e-6)
