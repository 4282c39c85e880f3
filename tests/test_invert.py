"""The MILS loop on real offline models: MiniLM scores, SmolLM2 (llama.cpp) or `mutate` proposes."""

import json
import random

import numpy as np
import pytest

import unembed
from unembed.errors import InputError, SpaceMismatchError
from unembed.index import Bank, collect_captions
from unembed.inverter import InversionResult, TextEmbeddingCache, invert, invert_many
from unembed.spaces import Space, load_space


class RecordingSpace(Space):
    """The real MiniLM, remembering every text it was asked to encode."""

    def __init__(self, inner):
        self.inner, self.spec, self.dim, self.modalities = inner, inner.spec, inner.dim, inner.modalities
        self.encoded: list[str] = []

    def _encode(self, modality, batch):
        self.encoded.extend(batch)
        return self.inner.embed(modality, batch)


@pytest.fixture(scope="module")
def space():
    return load_space("minilm")


@pytest.fixture(scope="module")
def captions():
    return collect_captions(["mils-image"])


@pytest.fixture(scope="module")
def held_out(captions):
    return random.Random(3).sample(captions, 3)


@pytest.fixture(scope="module")
def bank(space, captions, held_out):
    # A small bank keeps the test fast; the held-out lines are in it and excluded at search time.
    sample = random.Random(0).sample(captions, 600)
    return Bank.from_texts(sample + held_out, space)


@pytest.mark.slow
def test_smollm2_improves_on_the_bank(space, bank, held_out):
    pytest.importorskip("llama_cpp")
    results = invert_many(
        space.embed_text(held_out), space=space, bank=bank, generator="llama.cpp", steps=3, requested=10,
        keep=10, exclude=held_out, patience=None,
    )
    improved = [result.score > result.bootstrap_score + 1e-4 for result in results]
    assert sum(improved) >= 2, [(r.bootstrap_text, r.text) for r in results]
    for target, result in zip(held_out, results):
        assert result.bootstrap_text != target  # held out really is out
        assert result.trajectory() == sorted(result.trajectory())
        assert result.llm_calls >= 3 * 2  # 10 requested in calls of 5 lines
        assert all(len(text.split()) <= 10 for _, text in result.top[:5] if text not in bank.texts)


def test_mutate_is_seeded_and_reproducible(space, bank, held_out):
    vectors = space.embed_text(held_out)
    options = dict(space=space, bank=bank, generator="mutate", steps=3, requested=15, keep=10, exclude=held_out,
                   fluency=False)
    first, second = invert_many(vectors, seed=5, **options), invert_many(vectors, seed=5, **options)
    other = invert_many(vectors, seed=6, **options)
    assert [r.top for r in first] == [r.top for r in second]
    assert [r.history[1].candidates for r in first] != [r.history[1].candidates for r in other]


def test_no_text_is_encoded_twice(space, bank, held_out):
    recording = RecordingSpace(space)
    cache = TextEmbeddingCache(recording)
    vectors = space.embed_text(held_out)
    options = dict(space=recording, bank=bank, generator="mutate", steps=4, requested=20, keep=10, exclude=held_out,
                   fluency=False)
    results = invert_many(vectors, cache=cache, **options)
    # A second batch of the same targets proposes the same texts: all of them come from the cache.
    again = invert_many(vectors, cache=cache, **options)
    assert len(recording.encoded) == len(set(recording.encoded)) > 0
    assert again[0].cache["misses"] == 0 and again[0].cache["hits"] > 0
    assert results[0].cache["misses"] == len(recording.encoded)
    # Each step scored only texts its target had not seen before.
    for result in results:
        scored = [text for record in result.history[1:] for _, text in record.candidates]
        assert len(scored) == len(set(scored))


def test_early_stop_and_history(space, bank, held_out):
    result = invert(space.embed_text(held_out[:1])[0], space=space, bank=bank, generator="mutate", steps=30,
                    requested=5, keep=5, patience=2, exclude=held_out, fluency=False)
    steps = len(result.history) - 1
    assert steps < 30
    last = [record.best_score for record in result.history[-3:]]
    assert last[0] == last[1] == last[2]  # stopped after 2 steps without a better best
    assert result.history[0].step == 0 and result.history[-1].step == steps


def test_a_gain_below_min_gain_is_a_tie_the_bank_text_wins(space, bank, held_out):
    vectors = space.embed_text(held_out)
    options = dict(space=space, bank=bank, generator="edit", steps=2, requested=10, keep=10, exclude=held_out)
    free = invert_many(vectors, min_gain=0.0, **options)
    gains = sorted(result.score - result.bootstrap_score for result in free)
    assert gains[0] < gains[-1], [(r.bootstrap_text, r.text) for r in free]  # a small gain and a large one
    threshold = (gains[0] + gains[-1]) / 2
    tied = invert_many(vectors, min_gain=threshold, **options)
    for before, after in zip(free, tied):
        assert after.top == before.top  # the search is the same; only the answer differs
        if before.score - before.bootstrap_score < threshold:
            assert (after.text, after.score) == (after.bootstrap_text, after.bootstrap_score)
        else:
            assert (after.text, after.score) == (before.text, before.score) != (after.bootstrap_text, after.bootstrap_score)
    assert tied[0].config.min_gain == threshold
    with pytest.raises(InputError, match="min_gain must be at least 0"):
        invert_many(vectors, min_gain=-0.1, **options)


def test_result_serialises_and_plots(space, bank, held_out, tmp_path):
    pytest.importorskip("matplotlib")
    result = invert(space.embed_text(held_out[:1])[0], space=space, bank=bank, generator="mutate", steps=2,
                    requested=5, keep=5, exclude=held_out, fluency=False)
    path = tmp_path / "result.json"
    result.to_json(path)
    data = json.loads(path.read_text())
    assert data["text"] == result.text and len(data["history"]) == len(result.history)
    assert InversionResult.from_dict(data).top == result.top
    result.plot(tmp_path / "trajectory.png")
    assert (tmp_path / "trajectory.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_bad_embeddings_are_clear_errors(space, bank):
    with pytest.raises(InputError, match="dimension 12"):
        unembed.invert(np.ones(12, dtype=np.float32), space=space, bank=bank, generator="mutate")
    nan = np.full(space.dim, np.nan, dtype=np.float32)
    with pytest.raises(InputError, match="NaN"):
        unembed.invert(nan, space=space, bank=bank, generator="mutate")
    with pytest.raises(InputError, match="all zero"):
        unembed.invert(np.zeros(space.dim), space=space, bank=bank, generator="mutate")


def test_bank_from_another_space_is_refused(space):
    class Other(Space):
        spec, dim, modalities = "other", 8, ("text",)

        def _encode(self, modality, batch):
            return np.eye(len(batch), 8, dtype=np.float32)

    other_bank = Bank.from_texts(["a cat", "a dog"], Other())
    with pytest.raises(SpaceMismatchError):
        invert(np.ones(space.dim), space=space, bank=other_bank, generator="mutate")


@pytest.mark.slow
def test_fluency_gate_keeps_returned_text_as_fluent_as_the_bank(space, bank, held_out):
    pytest.importorskip("llama_cpp")
    from unembed.generators import default_fluency

    fluency = default_fluency()
    salad, sentence = fluency.score(["beach the on runs dog a", "A dog runs on the beach"])
    assert sentence > salad + 1.0
    results = invert_many(space.embed_text(held_out), space=space, bank=bank, generator="mutate", steps=3,
                          requested=15, keep=10, exclude=held_out)  # the gate is on for mutate
    assert results[0].config.fluency_margin == 0.0
    for result in results:
        returned, bootstrap = fluency.score([result.text, result.bootstrap_text])
        assert returned >= bootstrap - 1e-5
        # Each dropped text is on record (for the plot), was a scored candidate, and is below the floor.
        for record in result.history:
            assert set(record.rejected) <= {text for _, text in record.candidates}
            if record.rejected:
                assert max(fluency.score(record.rejected)) < bootstrap
    assert any(record.rejected for result in results for record in result.history)
    ungated = invert_many(space.embed_text(held_out), space=space, bank=bank, generator="mutate", steps=3,
                          requested=15, keep=10, exclude=held_out, fluency=False)
    assert sum(r.score for r in ungated) >= sum(r.score for r in results)  # the gate costs cosine, not fluency


def test_an_exclude_list_that_empties_the_bank_is_named_and_an_empty_bank_name_refused(minilm):
    from unembed.errors import BankError

    bank = Bank.from_texts(["a dog on a beach", "a red car"], minilm)
    target = minilm.embed_text(["a dog"])[0]
    with pytest.raises(BankError, match="exclude leaves the bank no caption"):
        invert(target, space=minilm, bank=bank, exclude=list(bank.texts), steps=1, generator="mutate")
    with pytest.raises(InputError, match="bank's name is empty"):
        invert(target, space=minilm, bank="  ", steps=1, generator="mutate")


def test_a_fluency_margin_is_checked_even_where_no_fluency_gate_runs(space, bank):
    target = space.embed_text(["a dog runs on the beach"])
    # edit proposes real words: no gate runs, so a margin would be ignored without a word.
    with pytest.raises(InputError, match="fluency_margin must be a finite number"):
        invert_many(target, space=space, bank=bank, generator="edit", steps=1, fluency_margin=float("nan"))
    with pytest.raises(InputError, match="fluency_margin 2 applies only with the fluency gate, which is off"):
        invert_many(target, space=space, bank=bank, generator="edit", steps=1, fluency_margin=2.0)
    with pytest.raises(InputError, match="--fluency"):
        invert_many(target, space=space, bank=bank, generator="mutate", fluency=False, steps=1, fluency_margin=-1.0)
    assert invert_many(target, space=space, bank=bank, generator="edit", steps=1, fluency_margin=0.0)[0].config.fluency_margin is None
