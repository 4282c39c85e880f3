"""The `edit` proposer: it composes captions no bank holds, searching with the space's scorer (MiniBind, MiniLM)."""

import numpy as np
import pytest

from unembed import invert_many, load_generator, load_space
from unembed.generators import GeneratorError, ProposalRequest
from unembed.generators.edit import CorpusGrammar, join_words, lexical_edits, refusal, single_edits, well_formed, words_of
from unembed.index import Bank, collect_captions
from unembed.minibind import world


@pytest.fixture(scope="module")
def minibind():
    return load_space("minibind")


def test_substitutions_follow_the_corpus_and_leave_function_words_alone():
    grammar = CorpusGrammar(["a small red circle on the left", "a small blue square on the right", "a large red square"])
    parent, vocabulary = "a small red square on the left", ["blue", "an", "the"]
    edits = {join_words(edit) for edit in single_edits(words_of(parent), grammar, vocabulary, [])}
    assert "a small blue square on the left" in edits  # blue stands where red stood ("small _ circle/square")
    assert refusal(grammar, parent, "a small blue square on the left", vocabulary=vocabulary, phrases=[]) is None
    assert "a small red square on the right" not in edits  # "right" is not in the vocabulary given
    assert refusal(grammar, parent, "a small red square on the right", vocabulary=vocabulary, phrases=[]).startswith(
        "material: 'right' is not among")
    assert refusal(grammar, parent, "a small red square on the right") is None  # the corpus's grammar allows it
    assert not [text for text in edits if text.startswith(("the ", "an "))]  # "the small" was never seen
    assert refusal(grammar, parent, "the small red square on the left") == "function-word: '[start] the small'"
    assert join_words(["a", "orange", "heart"]) == "an orange heart"
    assert not well_formed(["a", "red", "red", "circle"], grammar) and not well_formed(["a", "circle", "and"], grammar)
    assert not well_formed(["and", "a", "circle"], grammar) and well_formed(["a", "circle"], grammar)
    # More than one edit away, a text is judged by the rules that read the text alone.
    assert refusal(grammar, "a red circle", "a red red circle on the left") == "repeated-word: 'red red'"


def test_edit_composes_held_out_scenes_that_no_bank_caption_names(minibind):
    # The bank: every one-object scene without an element, minus the held-out colour-shape pairs.
    scenes = [s for s in world.all_image_scenes("one-object") if s.element is None]
    trainable = [world.caption(s) for s in scenes if not world.is_held_out(s)]
    bank = Bank.from_texts(trainable, minibind)
    rng = np.random.default_rng(3)
    held_out = [s for s in scenes if world.is_held_out(s)]
    targets = [held_out[i] for i in rng.choice(len(held_out), 6, replace=False)]
    vectors = minibind.embed("image", [world.render_image(s, rng) for s in targets])
    results = invert_many(vectors, space=minibind, bank=bank, generator="edit", modality="image", steps=2, keep=10,
                          requested=10, fluency=False)
    assert all(world.parse_image_text(r.bootstrap_text) != s for r, s in zip(results, targets))  # the bank cannot say it
    right = [world.parse_image_text(r.text) == s for r, s in zip(results, targets)]
    assert sum(right) >= 4, [(world.caption(s), r.text) for r, s in zip(results, targets)]
    assert all(r.score >= r.bootstrap_score for r in results)


def test_edit_without_a_scorer_reports_why_and_the_loop_records_it():
    request = ProposalRequest(template="", candidates=[(0.5, "a red circle")], neighbours=["a blue square"],
                              requested=5, max_words=10, seed=0)
    proposal = load_generator("edit").propose([request])[0]
    assert proposal.texts == [] and "scorer" in proposal.error


def test_edits_keep_the_corpus_grammar_where_a_scorer_would_not():
    # The world's own captions: what a templated bank says, and the mistakes a scorer rewards in it.
    corpus = world.canonical_captions("image", held_out=False)
    grammar = CorpusGrammar(corpus)
    edits = {join_words(edit) for edit in single_edits(
        words_of("a large green triangle in the centre with birds flying above"), grammar,
        ["circle", "in", "on", "left", "large"], [("on", "the", "right")])}
    assert "a large green circle in the centre with birds flying above" in edits  # circle is alike triangle
    assert well_formed(words_of("a large green circle in the centre with birds flying above"), grammar)  # the corpus ends on "above"
    assert not well_formed(words_of("a large green circle below"), grammar)  # no caption ends on "below"
    assert refusal(grammar, "a large green circle in the centre", "a large green circle below") == "join-at-end: 'circle below [end]'"
    moved = {join_words(edit) for edit in single_edits(words_of("a large green circle on the left in the rain"), grammar, ["in", "on"], [])}
    assert "a large green circle in the left in the rain" not in moved  # "the" never stood between "in" and "left"
    assert refusal(grammar, "a large green circle on the left in the rain", "a large green circle in the left in the rain") == \
        "glue: 'in the left'"
    two = {join_words(edit) for edit in single_edits(words_of("a pink star on the left and a red star on the right"), grammar, [], [])}
    assert "a pink star on the left and a red star" not in two  # no caption ends on a shape
    assert refusal(grammar, "a pink star on the left and a red star on the right", "a pink star on the left and a red star") == \
        "novel-triples: 'red star [end]'"
    assert grammar.repeats_as_seen(words_of("a pink star on the left and a red star on the right"))  # two stars, two "the"
    assert not grammar.repeats_as_seen(words_of("a pink star on the left and a red star on the left"))  # no caption says "left" twice
    assert refusal(grammar, "a pink star on the left and a red star on the right",
                   "a pink star on the left and a red star on the left") == "repeated-phrase: 'on the left'"
    audio = CorpusGrammar(world.canonical_captions("audio", held_out=False))
    stacked = {join_words(edit) for edit in single_edits(words_of("a loud clock ticking fast"), audio, ["low-pitched", "quiet"], [])}
    assert "a quiet clock ticking fast" in stacked  # quiet is alike loud
    assert "a low-pitched loud clock ticking fast" not in stacked  # pitch never comes before loudness
    assert refusal(audio, "a loud clock ticking fast", "a low-pitched loud clock ticking fast") == "unseen-pair: 'low-pitched loud'"
    assert not audio.alike("loud", "low-pitched") and audio.alike("loud", "quiet")


def test_word_edits_do_not_trade_a_common_construction_for_a_rare_one():
    # The world's audio captions beside MILS's own lines: "and a loud" and "birds chirping and" are
    # English the MILS lines hold a few times, where the world's captions say "and a high-pitched" dozens.
    from unembed.minibind import mils_distractors

    grammar = CorpusGrammar([*world.canonical_captions("audio", held_out=False), *mils_distractors("audio", 2000, 12345)])
    text = "low-pitched birds chirping slowly and a high-pitched bell ringing fast"
    edits = {join_words(edit) for edit in single_edits(words_of(text), grammar, ["loud", "quiet", "the", "slowly", "fast"], [])}
    assert grammar.attested("and", "a", "loud") < grammar.attested("and", "a", "high-pitched")
    assert "low-pitched birds chirping slowly and a loud high-pitched bell ringing fast" not in edits  # an inserted word
    assert refusal(grammar, text, "low-pitched birds chirping slowly and a loud high-pitched bell ringing fast").startswith(
        "rarer-triple: 'a loud high-pitched'")
    assert "low-pitched birds chirping and a high-pitched bell ringing fast" not in edits  # a deleted word
    assert refusal(grammar, text, "low-pitched birds chirping and a high-pitched bell ringing fast").startswith(
        "rarer-triple: 'birds chirping and'")
    assert "low-pitched birds chirping slowly and a high-pitched bell ringing slowly" in edits  # slowly is alike fast
    assert "low-pitched birds chirping fast and a high-pitched bell ringing fast" in edits


def test_word_trades_keep_the_part_of_speech():
    pytest.importorskip("lemminflect")
    trades = {join_words(edit) for edit in lexical_edits(words_of("chef preparing food"), ["onions", "chopping", "the", "quietly"])}
    assert {"chef preparing onions", "chef chopping food"} <= trades  # a noun for a noun ("food" may be plural), -ing for -ing
    assert "onions preparing food" not in trades  # "chef" is only singular
    grammar = CorpusGrammar(["chef preparing food"])
    assert refusal(grammar, "chef preparing food", "onions preparing food", kinds=["trade"]) == "part-of-speech: 'onions' for 'chef'"
    assert refusal(grammar, "chef preparing food", "chef preparing quietly", kinds=["trade"]) == "part-of-speech: 'quietly' for 'food'"
    assert refusal(grammar, "chef preparing food", "chef preparing the", kinds=["trade"]).startswith("function-word: 'the' for 'food'")
    assert refusal(grammar, "chef preparing food", "chef preparing onions", kinds=["trade"]) is None
    with pytest.raises(GeneratorError, match="'lexicon' or none"):
        load_generator("edit:lexcon")
    assert not [text for text in trades if "quietly" in text or " the" in text or text.endswith("chopping")]
    assert refusal(grammar, "chef preparing food", "chef preparing chopping", kinds=["trade"]) == "part-of-speech: 'chopping' for 'food'"


@pytest.mark.slow
def test_edit_lexicon_names_what_the_corpus_grammar_cannot_and_its_judge_reads_every_trade():
    pytest.importorskip("lemminflect")
    pytest.importorskip("llama_cpp")
    minilm = load_space("minilm")
    corpus = collect_captions(["mils-image"])
    target = minilm.embed_text(["a chef chopping onions in a restaurant kitchen"])[0]
    parent = "chef preparing food"

    def proposals(spec):
        # No neighbours and no vocabulary: the corpus grammar can only delete or swap, so every new word is a trade.
        request = ProposalRequest(
            template="", candidates=[(float(minilm.embed_text([parent])[0] @ target), parent)], neighbours=[], requested=50,
            max_words=10, seed=0, score=lambda texts: minilm.embed_text(texts) @ target, corpus=corpus)
        generator = load_generator(spec, rounds=1, vocabulary=0)
        return generator, generator.propose([request])[0].texts

    _, plain = proposals("edit")
    lexicon, judged = proposals("edit:lexicon")
    assert not [text for text in plain if set(words_of(text)) - set(words_of(parent))]
    traded = [text for text in judged if set(words_of(text)) - set(words_of(parent))]
    assert any("onions" in text or "chopping" in text for text in traded), judged[:10]
    best = {name: float(np.max(minilm.embed_text([parent, *texts]) @ target)) for name, texts in (("plain", plain), ("lexicon", judged))}
    assert best["lexicon"] > best["plain"] + 0.05, (plain[:5], judged[:5])
    fluency = lexicon.judge.score([*traded, parent])
    assert (fluency[:-1] >= fluency[-1]).all()  # each trade reads at least as fluently as the text it edits
