"""Objectives: the loop raises each one above the bank's best on real spaces (MiniBind, MiniLM), and bad
parameters stop before the loop starts."""

import dataclasses
import random

import numpy as np
import pytest
from safetensors.numpy import save_file

from unembed import InputError, ObjectiveError, invert_many, load_objective, load_space
from unembed.index import Bank, collect_captions
from unembed.inverter import InversionConfig, cache_for
from unembed.minibind import world


@pytest.fixture(scope="module")
def minibind():
    return load_space("minibind")


@pytest.fixture(scope="module")
def held_out_case(minibind):
    """A bank of one-object captions without the held-out colour-shape pairs, and pictures of a held-out scene."""
    scenes = [s for s in world.all_image_scenes("one-object") if s.element is None]
    bank = Bank.from_texts([world.caption(s) for s in scenes if not world.is_held_out(s)], minibind)
    scene = [s for s in scenes if world.is_held_out(s)][0]
    shape = scene.objects[0]
    other = dataclasses.replace(scene, objects=(dataclasses.replace(shape, colour="red" if shape.colour != "red" else "blue"),))

    def picture(s, seed=0):
        return minibind.embed("image", [world.render_image(s, np.random.default_rng(seed))])[0].astype(np.float64)

    return bank, picture(scene), picture(other), np.stack([picture(scene, seed) for seed in range(3)])


def sae_file(path, rows, *, transposed=False, **extra):
    """An SAE encoder whose features read `rows`; saved as (dim, d_sae), SAELens's layout, when transposed."""
    rows = np.asarray(rows, dtype=np.float32)
    save_file({"W_enc": rows.T.copy() if transposed else rows, "b_enc": np.zeros(len(rows), np.float32), **extra}, str(path))
    return path


def test_the_loop_raises_each_objective_above_the_banks_best(minibind, held_out_case, tmp_path):
    bank, target, other, pictures = held_out_case
    rows = np.vstack([target, np.random.default_rng(1).normal(size=(7, minibind.dim))])
    objectives = [
        load_objective("cosine", target=target),
        load_objective("contrast", a=target, b=other, weight=0.5),
        load_objective("set:min", vectors=pictures),
        load_objective("set:mean", vectors=pictures),
        load_objective("probe", weights=5 * target, bias=-1.0),
        load_objective(f"sae_feature:{sae_file(tmp_path / 'sae.safetensors', rows)}#0"),
        load_objective(f"sae_feature:{sae_file(tmp_path / 'sae_t.safetensors', rows, transposed=True)}", feature=0, activation="topk", k=2),
    ]
    results = invert_many(objective=objectives, space=minibind, bank=bank, generator="edit", modality="image", steps=3,
                          keep=10, requested=20, fluency=False)
    for objective, result in zip(objectives, results):
        assert result.score > result.bootstrap_score + 0.01, (objective, result.bootstrap_text, result.text)
        assert result.score == pytest.approx(objective.score([result.text])[0], abs=1e-6)  # the result's score is the objective's
        assert result.config.objective == objective.spec
    assert results[0].config.objective == "cosine"


def test_a_centred_direction_rises_above_the_banks_best(minibind, held_out_case):
    bank, target, other, _ = held_out_case
    objective = load_objective("direction:centred", direction=target - other, baseline=minibind.embed_text(bank.texts))
    result = invert_many(objective=objective, space=minibind, bank=bank, generator="mutate", modality="image", steps=3,
                         keep=10, requested=20, fluency=False)[0]
    assert result.score > result.bootstrap_score + 0.01, (result.bootstrap_text, result.text)
    # Centring on the bank moves a text's score off its plain projection.
    plain = load_objective("direction", direction=target - other).bind(cache_for(minibind))
    assert plain.score([result.text])[0] != pytest.approx(result.score, abs=1e-3)


def test_a_direction_between_two_groups_of_texts_on_minilm():
    space = load_space("minilm")
    captions = random.Random(0).sample(collect_captions(["mils-image"]), 400)
    bank = Bank.from_texts(captions, space)
    dogs = space.embed_text(["a dog running on the beach", "a brown dog with a ball", "two dogs playing in the park"])
    cats = space.embed_text(["a cat sleeping on a sofa", "a white cat on a window sill", "two cats playing indoors"])
    objective = load_objective("direction", direction=dogs.mean(axis=0) - cats.mean(axis=0))
    result = invert_many(objective=objective, space=space, bank=bank, generator="mutate", steps=3, keep=10,
                         requested=20, fluency=False)[0]
    assert result.score > result.bootstrap_score + 0.01, (result.bootstrap_text, result.text)
    assert "cat" not in result.text


def test_bad_parameters_stop_before_the_loop_starts(minibind, tmp_path):
    good = np.ones(minibind.dim)
    with pytest.raises(InputError, match="is 5-d but space"):
        invert_many(objective=load_objective("direction", direction=np.ones(5)), space=minibind, generator="no-such-generator")
    with pytest.raises(InputError, match="group A .* is empty"):
        load_objective("contrast", a=np.zeros((0, minibind.dim)), b=np.zeros((0, minibind.dim)))
    with pytest.raises(InputError, match="NaN or inf"):
        load_objective("probe", weights=np.full(minibind.dim, np.nan))
    with pytest.raises(InputError, match="finite number"):
        load_objective("contrast", a=good, b=-good, weight=float("inf"))
    with pytest.raises(InputError, match="all zero"):
        load_objective("cosine", target=np.zeros(minibind.dim))
    with pytest.raises(InputError, match="is empty"):
        load_objective("set:min", vectors=[])
    with pytest.raises(InputError, match="mode must be one of"):
        load_objective("set:median", vectors=good)
    missing = tmp_path / "missing.safetensors"
    save_file({"W_enc": np.ones((4, minibind.dim), np.float32)}, str(missing))
    with pytest.raises(InputError, match="no tensor.*b_enc"):
        load_objective(f"sae_feature:{missing}#0")
    narrow = load_objective(f"sae_feature:{sae_file(tmp_path / 'narrow.safetensors', np.ones((4, 7)))}#1")
    with pytest.raises(InputError, match="is 7-d but space"):
        invert_many(objective=narrow, space=minibind, generator="no-such-generator")
    with pytest.raises(InputError, match="has 4 features"):
        load_objective(f"sae_feature:{tmp_path / 'narrow.safetensors'}#4")
    with pytest.raises(InputError, match="needs a threshold"):
        load_objective(f"sae_feature:{tmp_path / 'narrow.safetensors'}#0", activation="jumprelu")
    with pytest.raises(InputError, match="both embeddings and objective"):
        invert_many(np.ones((1, minibind.dim)), objective=load_objective("cosine", target=good), space=minibind)


def test_an_objective_outside_the_loop_needs_an_embedder(minibind):
    objective = load_objective("probe", weights=np.ones(minibind.dim), bias=0.5)
    with pytest.raises(ObjectiveError, match="bind"):
        objective.score(["a red circle"])
    vector = minibind.embed_text(["a red circle"])[0]
    assert objective.bind(cache_for(minibind)).score(["a red circle"])[0] == pytest.approx(vector.sum() + 0.5, abs=1e-5)


def test_jumprelu_fires_only_above_the_threshold(minibind, tmp_path):
    vector = minibind.embed_text(["a red circle"])[0]
    path = sae_file(tmp_path / "jump.safetensors", [vector, -vector], threshold=np.array([0.99, 0.0], np.float32))
    cache = cache_for(minibind)
    high = load_objective(f"sae_feature:{path}#0", activation="jumprelu").bind(cache)
    low = load_objective(f"sae_feature:{path}#0", activation="jumprelu", threshold=0.5).bind(cache)
    scores = low.score(["a red circle", "a blue square on the right"])
    assert scores[0] == pytest.approx(1.0, abs=1e-4) and high.activation(minibind.embed_text(["a blue square on the right"]))[0] == 0.0
    # Below the threshold the score is minus the distance to firing: a slope, not a flat zero.
    assert high.score(["a blue square on the right"])[0] < 0
    assert scores[1] < 0 or scores[1] > 0.5


def test_a_config_saved_before_objectives_reads_back():
    saved = dict(space="minibind", generator="mutate", modality="image", steps=1, requested=5, keep=5, shown=5, max_words=10)
    assert InversionConfig.from_dict({**saved, "scorer": "render:minibind"}).objective == "render:minibind"
    assert InversionConfig.from_dict({**saved, "scorer": None}).objective == "cosine"
