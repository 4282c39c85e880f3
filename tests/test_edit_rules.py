"""The edit generator's rules by name, its settings, the spec grammar that sets them, the refusals each
step records, and `unembed invert --why`, on real MiniBind and MiniLM models."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from unembed import invert_many, load_generator, load_space
from unembed.cli import main
from unembed.errors import GeneratorError, InputError, ObjectiveError
from unembed.generators.edit import KINDS, RULES, CorpusGrammar, EditSettings, edit_kinds, why
from unembed.index import Bank, resolve_bank
from unembed.inverter import InversionResult
from unembed.minibind import world
from unembed.objectives import load_objective
from unembed.registry import Registry, format_spec, parse_spec, split_spec


@pytest.fixture(scope="module")
def minibind():
    return load_space("minibind")


def test_a_spec_sets_options_after_commas_in_every_registry():
    assert parse_spec("edit:lexicon,beam=8,judge=/models/qwen.gguf") == ("edit", "lexicon", {"beam": 8, "judge": "/models/qwen.gguf"})
    assert parse_spec("x,a=1,b=0.25,c=true,d=False,e=text") == ("x", "", {"a": 1, "b": 0.25, "c": True, "d": False, "e": "text"})
    assert parse_spec("llama.cpp:/models/a,b.gguf") == ("llama.cpp", "/models/a,b.gguf", {})  # a comma in a path stays in it
    assert split_spec("edit:lexicon,beam=8") == ("edit", "lexicon") and split_spec("minilm") == ("minilm", "")
    assert format_spec("edit", "lexicon", {"beam": 5, "fast": True}) == "edit:lexicon,beam=5,fast=true"
    with pytest.raises(InputError, match="'beam' in spec 'edit,beam' is not an option"):
        parse_spec("edit,beam")
    with pytest.raises(InputError, match="'beam' twice"):
        parse_spec("edit,beam=5,beam=6")

    def widget(argument, *, size=1, colour="red"):
        return argument, size, colour

    widgets = Registry("widget", None, GeneratorError)
    widgets.register("w", widget)
    assert widgets.load("w:x,size=3,colour=blue") == ("x", 3, "blue")
    assert widgets.load("w,size=3", size=4, colour="green") == ("", 4, "green")  # a keyword given in Python wins
    with pytest.raises(GeneratorError, match="widget 'w' has no option 'weight'.*Its options: size, colour"):
        widgets.load("w,weight=3")
    with pytest.raises(GeneratorError, match="no ':', '[+]', ',' or '='"):
        widgets.register("w,v", widget)
    with pytest.raises(ObjectiveError, match="objective 'cosine' has no option 'foo'.*Its options: target, space"):
        load_objective("cosine,foo=1", target=np.ones(4))


def test_edit_takes_its_settings_from_the_spec_and_its_spec_rebuilds_it():
    settings = EditSettings()
    assert (settings.beam, settings.rounds, settings.vocabulary, settings.checks, settings.trades, settings.shared_contexts,
            settings.shared_share) == (None, 3, 40, 30, 15, 2, 0.25)
    assert (settings.beam_for(judged=False), settings.beam_for(judged=True)) == (3, 8)  # the beam follows the judge
    plain, five = load_generator("edit"), load_generator("edit,beam=5")
    assert (plain.spec, plain.beam, plain.settings) == ("edit", 3, settings)
    assert (five.spec, five.beam, five.settings) == ("edit,beam=5", 5, EditSettings(beam=5))
    assert load_generator("edit,beam=3").spec == "edit"  # only what differs from the defaults is written
    assert load_generator("edit", rounds=1, vocabulary=0).spec == "edit,rounds=1,vocabulary=0"
    assert load_generator("edit,beam=5", beam=4).beam == 4
    assert load_generator(load_generator("edit,shared_share=0.5,checks=10").spec).settings == EditSettings(shared_share=0.5, checks=10)
    pooled = load_generator("edit,beam=5+mutate")
    assert pooled.spec == "edit,beam=5+mutate" and pooled.generators[0].beam == 5
    for spec, message in [("edit,beam=x", "the edit generator's beam must be a whole number; got 'x'"),
                          ("edit,beam=0", "beam must be at least 1"), ("edit,shared_share=2", "from 0 to 1"),
                          ("edit,bam=5", "has no option bam. Its options: beam, rounds, vocabulary, checks, trades"),
                          ("edit:lexicon,beam", "options follow commas (edit,beam=5)"), ("edit,judge=true", "GGUF model file")]:
        with pytest.raises(GeneratorError, match=re.escape(message)):
            load_generator(spec)
    # The settings reach the corpus grammar: "loud" and "quiet" share 8 contexts, not 9.
    corpus = world.canonical_captions("audio", held_out=False)
    assert plain.grammar(corpus).alike("loud", "quiet")
    assert not load_generator("edit,shared_contexts=9").grammar(corpus).alike("loud", "quiet")


@pytest.mark.slow
def test_edit_lexicon_spec_names_its_beam_and_judge(tmp_path):
    pytest.importorskip("lemminflect")
    pytest.importorskip("llama_cpp")
    from unembed.generators.llama_cpp import default_gguf

    lexicon = load_generator("edit:lexicon")
    assert (lexicon.spec, lexicon.beam, lexicon.kinds) == ("edit:lexicon", 8, KINDS)
    assert load_generator("edit:lexicon,beam=5").spec == "edit:lexicon,beam=5"
    judge = tmp_path / "judge.gguf"
    judge.symlink_to(default_gguf())  # another GGUF file: SmolLM2 under another name
    judged = load_generator(f"edit:lexicon,beam=8,judge={judge}")
    assert judged.spec == f"edit:lexicon,judge={judge}" and judged.judge.model_path == judge and judged.beam == 8
    assert load_generator(judged.spec).spec == judged.spec


def test_the_rules_table_names_each_rule_and_the_kinds_it_applies_to():
    names = [rule.name for rule in RULES]
    assert len(set(names)) == len(names) and all(rule.description for rule in RULES)
    assert {"material", "function-word", "unseen-pair", "glue", "novel-triples", "rarer-triple", "join-at-end",
            "repeated-word", "repeated-phrase", "repeats-as-seen", "punctuation-at-end", "too-long", "empty"} <= set(names)
    kinds = {rule.name: set(rule.checks) for rule in RULES}
    assert all(applies <= set(KINDS) for applies in kinds.values())
    assert kinds["novel-triples"] == {"insert", "delete", "phrase"} and kinds["glue"] == set(KINDS)
    assert kinds["unseen-pair"] == {"substitute", "swap", "insert", "delete"}  # trades may make new pairs: the judge reads them
    grammar = CorpusGrammar(world.canonical_captions("image", held_out=False))
    assert edit_kinds("a large green circle on the left", "a large green circle in the left", grammar) == ["substitute"]
    assert edit_kinds("a large green circle on the left", "a small green circle in the left", grammar) == []
    assert why(grammar, "a large green circle in the left", "a large green circle on the left") == "refused by glue: 'in the left'"
    # "a large blue circle" is also a phrase of the corpus, in place of the first phrase.
    assert why(grammar, "a large blue circle on the left", "a large green circle on the left") == \
        "no rule refuses this substitute or phrase edit"


def _held_out_scenes(minibind, count):
    scenes = [s for s in world.all_image_scenes("one-object") if s.element is None]
    bank = Bank.from_texts([world.caption(s) for s in scenes if not world.is_held_out(s)], minibind)
    rng = np.random.default_rng(3)
    held_out = [s for s in scenes if world.is_held_out(s)]
    targets = [held_out[i] for i in rng.choice(len(held_out), count, replace=False)]
    return bank, minibind.embed("image", [world.render_image(s, rng) for s in targets])


def test_each_step_records_what_each_rule_refused_when_asked(minibind):
    bank, vectors = _held_out_scenes(minibind, 2)
    settings = dict(space=minibind, bank=bank, generator="edit", modality="image", steps=1, keep=5, requested=5, fluency=False)
    counted, plain = invert_many(vectors, record_refusals=True, **settings), invert_many(vectors, **settings)
    assert [r.text for r in counted] == [r.text for r in plain]  # counting changes nothing
    names = {rule.name for rule in RULES}
    for result in counted:
        assert result.config.record_refusals and result.history[0].refusals == {}
        refusals = result.history[1].refusals
        assert refusals["unseen-pair"] > 0 and set(refusals) <= names and all(count > 0 for count in refusals.values())
        data = json.loads(result.to_json())
        assert data["history"][1]["refusals"] == refusals
        assert InversionResult.from_dict(data).history[1].refusals == refusals
    assert all(record.refusals == {} for result in plain for record in result.history)
    mutated = invert_many(vectors[:1], record_refusals=True, **{**settings, "generator": "mutate", "steps": 1})
    assert mutated[0].history[1].refusals == {}  # other generators ignore it


def test_invert_why_names_the_rule_on_a_held_out_minibind_scene(minibind, tmp_path, capsys):
    scene = next(s for s in world.all_image_scenes("one-object")
                 if s.element is None and world.caption(s) == "a large green circle on the left")
    assert world.is_held_out(scene)  # no caption of the open-world bank names it
    Image.fromarray(world.render_image(scene, np.random.default_rng(0))).save(tmp_path / "scene.png")
    args = ["invert", str(tmp_path / "scene.png"), "--space", "minibind", "--bank", "minibind-image:open-world",
            "--steps", "3", "--requested", "10", "--keep", "10", "--why", "a large green circle in the left"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("  a large green circle on the left")
    assert lines[2] == 'why not "a large green circle in the left"? (edit\'s rules)'
    assert re.fullmatch(r'  from the answer "a large green circle on the left" \(0\.\d{3}\): refused by glue: \'in the left\'', lines[3])
    assert "not one edit away; it breaks glue: 'in the left'" in lines[4]  # from the bank's best, another colour
    # From Python, with the target's scores and the bank neighbours it draws its words from.
    target = minibind.embed("image", [str(tmp_path / "scene.png")])[0]
    corpus = resolve_bank("minibind-image:open-world", minibind, "image").texts
    score = lambda texts: minibind.embed_text(texts) @ target
    line = load_generator("edit").why("a large green circle on the right", lines[0][7:], corpus, neighbours=corpus[:20], score=score)
    assert re.fullmatch(r"no rule refuses this substitute(?: or phrase)? edit; it scores 0\.\d{3} against 0\.\d{3}", line), line
    narrow = load_generator("edit,vocabulary=0")  # its words: the neighbours' alone
    assert narrow.why("a large green circle on the left", "a large green square on the left", corpus,
                      neighbours=["a large green square on the left"], score=score).startswith("refused by material: 'circle' is not among")


@pytest.mark.slow
def test_invert_why_names_the_rule_on_the_mils_bank(capsys):
    # MiniLM encodes the bank's whole vocabulary to draw the words nearest the target: about a minute on 2 cores.
    args = ["invert", "--text", "a chef chopping onions in a restaurant kitchen", "--space", "minilm", "--bank", "mils-image",
            "--steps", "2", "--requested", "10", "--keep", "10", "--generator", "edit", "--why", "Chef chopping food"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("  Chef preparing food")
    assert lines[2:] == ['why not "Chef chopping food"? (edit\'s rules)',
                         (f'  from the answer "Chef preparing food" ({lines[0][:5]}): refused by unseen-pair: '
                          "'chef chopping' and 'chopping food'")]
