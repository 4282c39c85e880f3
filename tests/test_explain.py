"""`unembed explain` on real MiniBind pictures: directions, clusters, probes and SAE features are named by the
world's parser, the loop beats the bank's best, and bad input stops before the loop."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from safetensors.numpy import save_file

from unembed import InputError, load_space
from unembed.cli import main
from unembed.errors import SpaceMismatchError
from unembed.explain import (
    bank_baseline, directions, explain, group_objective, parse_features, probe_objectives, read_items, sae_objectives, train_sae,
)
from unembed.index import Bank
from unembed.objectives import SparseAutoencoder
from unembed.minibind import world
from unembed.minibind.ground_truth import embedded_scenes, labels, named_right
from unembed.objectives import Direction

SETTINGS = dict(generator="edit", modality="image", steps=2, keep=10, requested=20, fluency=False)


@pytest.fixture(scope="module")
def minibind():
    return load_space("minibind")


@pytest.fixture(scope="module")
def scenes_and_pictures(minibind):
    """Fresh renders of every one-object scene without an element, colour by colour, and their embeddings."""
    rng = np.random.default_rng(5)
    scenes = [s for s in world.all_image_scenes("one-object") if s.element is None][::3]
    vectors = minibind.embed("image", [world.render_image(scene, rng) for scene in scenes]).astype(np.float64)
    return scenes, vectors


@pytest.fixture(scope="module")
def bank(minibind):
    """Captions that name one object each, without a held-out colour-shape pair: the answer must be composed or found."""
    scenes = [s for s in world.all_image_scenes("one-object") if s.element is None and not world.is_held_out(s)]
    return Bank.from_texts([world.caption(s) for s in scenes], minibind)


@pytest.mark.slow
def test_a_colour_direction_is_named_by_its_colour(minibind, scenes_and_pictures, bank):
    scenes, vectors = scenes_and_pictures
    red = np.array([s.objects[0].colour == "red" for s in scenes])
    objective = group_objective(vectors[red], vectors[~red], baseline=bank_baseline(bank, minibind))
    [explanation] = explain(objective, space=minibind, bank=bank, **SETTINGS)
    assert named_right(explanation.text, "image", "colour", "red"), explanation.text
    assert explanation.lift >= 0 and explanation.score >= explanation.bank_score
    assert explanation.bank_texts[0] == (explanation.bank_score, explanation.bank_text)
    assert explanation.to_dict()["trajectory"][0] == pytest.approx(explanation.bank_score)


@pytest.mark.slow
def test_minilm_ground_truth_a_direction_between_paraphrases_is_named_by_its_value():
    # MiniLM reads no pictures: each scene is a paraphrase of its caption (other words and orders), embedded as text.
    minilm = load_space("minilm")
    scenes, vectors = embedded_scenes("image", 160, np.random.default_rng(9), minilm)
    pairs, has, applies = labels("image", scenes)
    captions = [world.caption(s) for s in world.all_image_scenes("one-object") if s.element is None and not world.is_held_out(s)]
    bank = Bank.from_texts(captions, minilm)
    named = {}
    for value in ("red", "triangle"):
        j = pairs.index(("colour" if value == "red" else "shape", value))
        objective = Direction(directions(vectors, has, applies)[j], baseline=bank_baseline(bank, minilm))
        [explanation] = explain(objective, space=minilm, bank=bank, **SETTINGS)
        named[value] = named_right(explanation.text, "image", pairs[j][0], value), explanation.text
    assert all(right for right, _ in named.values()), named


@pytest.mark.slow
def test_the_loop_keeps_probes_and_sae_features_at_least_at_the_banks_best_and_composes_a_held_out_cluster(minibind, scenes_and_pictures, bank, tmp_path):
    scenes, vectors = scenes_and_pictures
    pairs, has, _ = labels("image", scenes)
    # A probe per colour: the difference of class means, saved as nn.Linear saves it, names in the metadata.
    colours = [j for j, (attribute, _) in enumerate(pairs) if attribute == "colour"][:3]
    weight = np.array([vectors[has[:, j]].mean(0) - vectors[~has[:, j]].mean(0) for j in colours], np.float32) * 10
    probe = tmp_path / "probe.safetensors"
    save_file({"weight": weight, "bias": np.full(len(colours), -1.0, np.float32)}, str(probe),
              metadata={"names": ",".join(pairs[j][1] for j in colours)})
    names, probes = probe_objectives(probe)
    assert names == [pairs[j][1] for j in colours]
    sae = tmp_path / "sae.safetensors"
    # A light sparsity penalty leaves features that no world caption fires at its peak: room for the loop.
    save_file(train_sae(vectors, features=8, steps=300, l1=3e-3, seed=0), str(sae))
    sae_names, features = sae_objectives(sae, features=[0, 1])
    # A cluster of pictures of a held-out colour-shape pair: no bank caption names it.
    green_circles = np.array([(s.objects[0].colour, s.objects[0].shape) == ("green", "circle") for s in scenes])
    cluster = group_objective(vectors[green_circles])
    objectives = [*probes, *features, cluster]
    explanations = explain(objectives, names=[*names, *sae_names, "cluster"], space=minibind, bank=bank, **SETTINGS)
    for each in explanations:  # a linear probe may peak at a text the bank holds: then the loop keeps it
        assert each.score >= each.bank_score, (each.name, each.bank_text, each.text)
    # A feature whose peak among grammatical captions is one the bank holds keeps it: edit refuses the
    # ungrammatical texts ("... in the centre on the left") that would fire it harder.
    for each in explanations[len(probes):-1]:
        assert each.score > each.bank_score + 1e-3 or each.text == each.bank_text, (each.name, each.bank_text, each.text)
    *_, green = explanations  # the loop composes the caption the bank lacks
    assert green.score > green.bank_score + 1e-3, (green.bank_text, green.text)
    [named] = world.parse_image_text(green.text).objects
    assert (named.colour, named.shape) == ("green", "circle"), green.text
    assert [each.name for each in explanations] == [*names, "feature 0", "feature 1", "cluster"]
    assert named_right(explanations[0].text, "image", "colour", names[0]), explanations[0].text


def test_bad_input_stops_before_the_loop(minibind, tmp_path):
    with pytest.raises(InputError, match="both groups are empty"):
        group_objective(np.zeros((0, minibind.dim)), np.zeros((0, minibind.dim)))
    with pytest.raises(InputError, match="positive group is empty"):
        group_objective(None, np.ones((2, minibind.dim)))
    with pytest.raises(InputError, match="same mean"):
        group_objective(np.eye(minibind.dim)[:2], np.eye(minibind.dim)[:2])
    narrow = tmp_path / "narrow.npy"
    np.save(narrow, np.ones(5))
    with pytest.raises(SpaceMismatchError, match="5-d vector but space 'minibind'"):
        read_items([str(narrow)], minibind)
    # A direction of another width given as vectors: refused when the loop checks the objective, before any step.
    with pytest.raises(InputError, match="is 5-d but space"):
        explain(group_objective(np.ones((1, 5)), -np.ones((1, 5)) + 2 * np.eye(5)[:1]), space=minibind, generator="no-such-generator")
    probe = tmp_path / "nan-probe.safetensors"
    save_file({"weight": np.full((2, minibind.dim), np.nan, np.float32), "bias": np.zeros(2, np.float32)}, str(probe))
    with pytest.raises(InputError, match="NaN or inf"):
        probe_objectives(probe)
    save_file({"weights": np.ones((2, minibind.dim), np.float32)}, str(probe))
    with pytest.raises(InputError, match="no tensor 'weight'"):
        probe_objectives(probe)
    sae = tmp_path / "sae.safetensors"
    save_file({"W_enc": np.ones((4, minibind.dim), np.float32)}, str(sae))
    with pytest.raises(InputError, match="no tensor.*b_enc"):
        sae_objectives(sae)
    save_file({"W_enc": np.ones((4, 7), np.float32), "b_enc": np.zeros(4, np.float32)}, str(sae))
    with pytest.raises(InputError, match="is 7-d but space"):
        explain(sae_objectives(sae)[1], space=minibind, generator="no-such-generator")
    save_file({"W_enc": np.full((4, minibind.dim), np.nan, np.float32), "b_enc": np.zeros(4, np.float32)}, str(sae))
    with pytest.raises(InputError, match="W_enc holds NaN"):
        sae_objectives(sae)
    with pytest.raises(InputError, match="not a feature number or range"):
        parse_features("1,x", 16)
    assert parse_features("0-2,9,1", 16) == [0, 1, 2, 9]
    for too_many in ("0-999999999", "16", "3-" + "9" * 5000):  # refused before any list is built
        with pytest.raises(InputError, match="past this SAE's 16 features"):
            parse_features(too_many, 16)
    with pytest.raises(InputError, match="runs backwards"):
        parse_features("9-3", 16)
    with pytest.raises(InputError, match="not a feature number"):
        parse_features("²", 16)  # a digit to str.isdigit, not to int()
    with pytest.raises(InputError, match=r"k \(the features TopK keeps, of this SAE's 4\) must be at most 4"):
        SparseAutoencoder(sae, activation="topk", k=5)


@pytest.fixture()
def caption_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # file banks are cached here
    source = tmp_path / "captions.txt"
    scenes = [s for s in world.all_image_scenes("one-object") if s.element is None and s.objects[0].position == "left"]
    source.write_text("\n".join(world.caption(s) for s in scenes), encoding="utf-8")
    return source


@pytest.mark.slow
def test_cli_prints_the_best_text_last_and_writes_the_report(caption_file, tmp_path, capsys):
    report = tmp_path / "explain.json"
    args = ["explain", "--space", "minibind", "--positive", "a red circle", "a large red square", "--negative", "a blue circle",
            "a large green square", "--bank", str(caption_file), "--generator", "edit", "--steps", "1", "--json", str(report)]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    [explanation] = json.loads(report.read_text())["explanations"]
    assert lines[-1] == f"{explanation['score']:.3f}  {explanation['text']}"
    assert "red" in explanation["text"] and explanation["lift"] >= 0

    sae = tmp_path / "sae.safetensors"
    space = load_space("minibind")
    save_file({"W_enc": space.embed_text(["a red circle", "a blue square", "a green star"]), "b_enc": np.zeros(3, np.float32)}, str(sae))
    table = tmp_path / "features.parquet"
    assert main(["explain", "--space", "minibind", "--sae", str(sae), "--features", "0,2", "--bank", str(caption_file),
                 "--generator", "edit", "--steps", "1", "--json", str(table)]) == 0
    rows = pq.read_table(table).to_pylist()
    assert [row["name"] for row in rows] == ["feature 0", "feature 2"] and all(row["score"] >= row["bank_score"] for row in rows)
    assert "feature 2" in capsys.readouterr().out

    assert main(["explain", "--space", "minibind", "--bank", str(caption_file)]) == 2
    assert "exactly one of --positive/--negative, --probe, --sae" in capsys.readouterr().err
    assert main(["explain", "--space", "minibind", "--negative", "a blue circle", "--bank", str(caption_file)]) == 2
    assert "positive group is empty" in capsys.readouterr().err


def test_an_sae_that_saved_a_threshold_is_read_as_jumprelu(tmp_path):
    """The probe: an SAE file holding `threshold` was run as ReLU, without a word, unless --activation was given."""
    path = tmp_path / "jump.safetensors"
    save_file({"W_enc": np.eye(4, dtype=np.float32), "b_enc": np.zeros(4, np.float32), "threshold": np.full(4, 0.5, np.float32)}, str(path))
    sae = SparseAutoencoder(path)
    assert sae.activation == "jumprelu" and np.allclose(sae.threshold, 0.5)
    assert SparseAutoencoder(path, activation="relu").activation == "relu"  # asked for: as asked
    save_file({"W_enc": np.eye(4, dtype=np.float32), "b_enc": np.zeros(4, np.float32)}, str(tmp_path / "plain.safetensors"))
    assert SparseAutoencoder(tmp_path / "plain.safetensors").activation == "relu"


def _no_explaining(monkeypatch):
    import unembed.cli.explain as command

    def never(*args, **kwargs):
        raise AssertionError("the loop ran before the options were checked")

    monkeypatch.setattr(command, "explain", never)


def test_a_report_path_of_another_format_is_refused_before_the_loop(caption_file, tmp_path, capsys, monkeypatch):
    """The probe: `explain ... --json x.csv` wrote JSON into x.csv."""
    _no_explaining(monkeypatch)
    args = ["explain", "--space", "minibind", "--positive", "a red circle", "--bank", str(caption_file), "--steps", "0"]
    assert main([*args, "--json", str(tmp_path / "x.csv")]) == 2
    assert "--json " in (err := capsys.readouterr().err) and ".csv is neither. Give a path ending in .json or .parquet" in err
    assert not (tmp_path / "x.csv").exists()


def test_k_and_activation_without_the_sae_they_apply_to_are_refused(caption_file, tmp_path, capsys, monkeypatch):
    """The probe: `explain --k 5` without --sae --activation topk was silently ignored."""
    _no_explaining(monkeypatch)
    sae = tmp_path / "sae.safetensors"
    save_file({"W_enc": np.eye(4, 512, dtype=np.float32), "b_enc": np.zeros(4, np.float32)}, str(sae))
    args = ["explain", "--space", "minibind", "--bank", str(caption_file), "--steps", "0"]
    for given in (["--positive", "a red circle", "--k", "5"], ["--sae", str(sae), "--k", "2"],
                  ["--sae", str(sae), "--activation", "relu", "--k", "2"]):
        assert main([*args, *given]) == 2, given
        assert "--k is the number of features a TopK SAE keeps: it applies only with --sae FILE --activation topk" in capsys.readouterr().err
    assert main([*args, "--positive", "a red circle", "--activation", "topk"]) == 2
    assert "--activation is the activation of --sae's encoder" in capsys.readouterr().err


def test_an_sae_with_no_feature_that_can_fire_is_refused_not_listed(caption_file, tmp_path, capsys, monkeypatch):
    """The probe: an SAE whose threshold (1e9) no embedding reaches, explained with the default features ("every live
    one"), listed every feature with scores of about -1e9."""
    _no_explaining(monkeypatch)
    dead = tmp_path / "dead.safetensors"
    weights = np.eye(4, 512, dtype=np.float32)
    save_file({"W_enc": weights, "b_enc": np.zeros(4, np.float32), "threshold": np.full(4, 1e9, np.float32)}, str(dead))
    args = ["explain", "--space", "minibind", "--bank", str(caption_file), "--steps", "0", "--sae", str(dead)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "no feature of the SAE in" in err and "can fire" in err and "so none is live" in err and "--features" in err
    # Some dead, some live: only the live ones are explained by default; a dead one asked for by number is explained.
    save_file({"W_enc": weights, "b_enc": np.zeros(4, np.float32), "threshold": np.array([1e9, 0.5, 2.0, 0.0], np.float32)}, str(dead))
    names, _ = sae_objectives(dead)
    assert names == ["feature 1", "feature 3"]  # a unit row reaches 1.0: above 0.5 and 0.0, never above 1e9 or 2.0
    assert sae_objectives(dead, features="0")[0] == ["feature 0"]
