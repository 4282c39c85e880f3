"""The edit generator's corpus grammar as files (issue 26): `write_grammar` writes it, `MappedGrammar` maps it, and the
mapped one answers every question, and leads `edit` to every proposal, as the grammar built from the texts does."""

import json
import os
import pickle
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from unembed import invert_many
from unembed.errors import BankError
from unembed.generators import GeneratorError, ProposalRequest
from unembed.generators.edit import CorpusGrammar, EditGenerator, words_of
from unembed.corpus.grammar import phrases_of, windows_of, grammar_for
from unembed.corpus.grammar_files import GRAMMAR_FILES, CorpusTexts, MappedGrammar, write_grammar
from unembed.index import Bank, load_bank


def mils_image_lines() -> list[str]:
    return (Path(os.environ["UNEMBED_MILS_DIR"]) / "image_descriptions_per_class.txt").read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def grammars(tmp_path_factory):
    """MILS's image caption bank, its grammar built from the lines and the same grammar written and mapped."""
    texts = mils_image_lines()
    folder = tmp_path_factory.mktemp("grammar")
    assert [path.name for path in write_grammar(texts, folder)] == list(GRAMMAR_FILES)
    return texts, CorpusGrammar(texts), MappedGrammar(folder), folder


def shuffled(words: list[str], rng: random.Random) -> list[str]:
    words = list(words)
    rng.shuffle(words)
    return words


def test_the_mapped_grammar_answers_every_question_as_the_built_one(grammars):
    texts, built, mapped, _ = grammars
    assert mapped.words == built.words  # the same words in the same order (`_nearest_words` breaks ties by it)
    rng = random.Random(26)
    vocabulary = [*built.words, "<s>", "</s>", "zebrafish-unseen"]
    for _ in range(3000):  # mostly word combinations the corpus never holds
        left, word, right = (rng.choice(vocabulary) for _ in range(3))
        assert mapped.seen(left, word) == built.seen(left, word)
        assert mapped.stood(word, left, right) == built.stood(word, left, right)
        assert mapped.triples[left, word, right] == built.triples[left, word, right]
        assert mapped.attested(left, word, right) == built.attested(left, word, right)
        assert mapped.most[word] == built.most[word]
        assert mapped.alike(left, word) == built.alike(left, word)
        assert ((left, right) in mapped.contexts.get(word, ())) == ((left, right) in built.contexts.get(word, ()))
        assert set(mapped.fillers.get((left, right), ())) == built.fillers.get((left, right), set())
    for word in rng.sample(built.words, 500):  # every table, read whole for these words
        assert set(mapped.contexts[word]) == built.contexts[word] and len(mapped.contexts[word]) == len(built.contexts[word])
        for left, right in rng.sample(sorted(built.contexts[word]), min(5, len(built.contexts[word]))):
            assert set(mapped.fillers[left, right]) == built.fillers[left, right]
            assert mapped.triples[left, word, right] == built.triples[left, word, right] > 0
        other = rng.choice(built.words)
        assert mapped.alike(word, other) == built.alike(word, other) and mapped.alike(word, word) == built.alike(word, word)
    alike = [(first, second) for first in built.words[:60] for second in built.words[:60] if built.alike(first, second)]
    assert len(alike) > 20 and all(mapped.alike(*pair) for pair in alike)
    assert "zebrafish-unseen" not in mapped.contexts and mapped.most["zebrafish-unseen"] == 0
    for text in rng.sample(texts, 1500):
        real = words_of(text)
        for words in (real, shuffled(real, rng)):
            assert mapped.novel(words) == built.novel(words)
            assert mapped.loose_glue(words) == built.loose_glue(words)
            assert mapped.repeats_as_seen(words) == built.repeats_as_seen(words)
            assert mapped.weakest(list(windows_of(words))) == built.weakest(list(windows_of(words)))
            assert all(pair in mapped.pairs for pair in zip(["<s>", *real], [*real, "</s>"], strict=True))
            for phrase in phrases_of(words):
                assert (phrase in mapped.phrases) == (phrase in built.phrases)
    assert sum(mapped.novel(shuffled(words_of(text), rng)) for text in texts[:200]) > 0  # shuffles were novel


def test_a_bank_s_texts_carry_their_grammar_to_every_generator_setting(grammars):
    texts, built, _, folder = grammars
    corpus = CorpusTexts(texts, folder)
    assert corpus == texts and isinstance(grammar_for(corpus), MappedGrammar) and isinstance(grammar_for(texts), CorpusGrammar)
    strict = grammar_for(corpus, shared_contexts=9, shared_share=0.5)
    assert grammar_for(corpus) is corpus.grammar and strict is not corpus.grammar  # its thresholds, the corpus's files
    assert (strict.shared_contexts, strict.shared_share, strict.folder) == (9, 0.5, folder)
    strict_built = CorpusGrammar(texts, shared_contexts=9, shared_share=0.5)
    pairs = [(first, second) for first in built.words[:80] for second in built.words[:80]]
    assert [strict.alike(*pair) for pair in pairs] == [strict_built.alike(*pair) for pair in pairs]
    assert [corpus.grammar.alike(*pair) for pair in pairs] == [built.alike(*pair) for pair in pairs]
    assert any(built.alike(*pair) and not strict.alike(*pair) for pair in pairs)

    class Carrying(list):
        grammar = "grammar_words.npy"

    with pytest.raises(GeneratorError, match="not a CorpusGrammar"):
        grammar_for(Carrying(texts))
    copied = pickle.loads(pickle.dumps(corpus))  # a Ray worker's copy maps the same files, it does not carry the arrays
    assert copied.grammar.folder == folder and len(pickle.dumps(corpus.grammar)) < 1000
    assert copied.grammar.novel(words_of(texts[0])) == built.novel(words_of(texts[0]))


def test_edit_proposes_and_inverts_the_same_with_the_mapped_grammar(minilm, image_captions, tmp_path):
    bank = Bank.from_texts(image_captions, minilm)
    write_grammar(bank.texts, tmp_path)
    plain, carried = list(bank.texts), CorpusTexts(bank.texts, tmp_path)
    lines = mils_image_lines()
    targets = [lines[i] for i in (1000, 5000, 9000, 15000, 25000)]  # captions the bank (the first 400 lines) lacks
    vectors = minilm.embed_text(targets)
    results = {}
    for name, texts in (("built", plain), ("mapped", carried)):
        generator = EditGenerator()
        bank.texts = texts
        results[name] = invert_many(
            vectors, space=minilm, bank=bank, generator=generator, steps=2, keep=5, requested=5, fluency=False, seed=0
        )
        assert isinstance(generator.grammar(texts), MappedGrammar) == (name == "mapped")
    for built, mapped in zip(results["built"], results["mapped"], strict=True):
        assert (mapped.text, mapped.score, mapped.top) == (built.text, built.score, built.top)
        assert [record.candidates for record in mapped.history] == [record.candidates for record in built.history]
    assert any(result.text != result.bootstrap_text for result in results["built"])  # the edits did something

    # One proposal round, with every rule's refusals counted: the same refusals from either grammar.
    embedded = {}

    def scorer(vector):
        def score(batch):
            fresh = [text for text in dict.fromkeys(batch) if text not in embedded]
            embedded.update(zip(fresh, minilm.embed_text(fresh) if fresh else [], strict=True))
            return np.array([embedded[text] for text in batch]) @ vector

        return score

    proposals = {}
    for name, texts in (("built", plain), ("mapped", carried)):
        requests = [
            ProposalRequest(
                template="",
                candidates=[(float(scorer(vector)([parent])[0]), parent)],
                neighbours=image_captions[:20],
                requested=30,
                max_words=20,
                seed=0,
                corpus=texts,
                score=scorer(vector),
                record_refusals=True,
            )
            for parent, vector in zip(image_captions[20:25], vectors, strict=True)
        ]
        proposals[name] = [(proposal.texts, proposal.refusals) for proposal in EditGenerator(rounds=1).propose(requests)]
    assert proposals["mapped"] == proposals["built"] and all(texts and refusals for texts, refusals in proposals["built"])


def test_grammar_files_are_plain_npy_and_a_damaged_one_is_named(grammars, tmp_path):
    texts, _, _, folder = grammars
    for name in GRAMMAR_FILES:
        table = np.load(folder / name, allow_pickle=False)
        assert table.ndim == 1 and table.dtype != object
    assert not list(folder.glob(".*"))  # no temporary files left behind

    def damaged(name: str, damage) -> str:
        copy = tmp_path / f"damaged-{name}"
        shutil.copytree(folder, copy)
        damage(copy / name)
        with pytest.raises(BankError) as error:
            MappedGrammar(copy)
        return str(error.value)

    for name in ("grammar_triples.npy", "grammar_words.npy", "grammar_shape.npy"):
        message = damaged(name, lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]))
        assert name in message and "write_grammar" in message and "unembed bank build --overwrite" in message
    message = damaged("grammar_pairs.npy", lambda path: path.write_bytes(b"not an npy file at all"))
    assert "grammar_pairs.npy" in message and "damaged" in message
    assert "missing" in damaged("grammar_fillers.npy", Path.unlink)
    other = tmp_path / "other"
    write_grammar(texts[:100], other)
    message = damaged("grammar_counts.npy", lambda path: shutil.copy(other / path.name, path))
    assert "grammar_counts.npy" in message and "different corpora" in message
    message = damaged("grammar_most.npy", lambda path: np.save(path, np.zeros(3, dtype=np.float32)))
    assert "grammar_most.npy" in message and "int32" in message


def test_a_saved_bank_ships_its_grammar_and_a_tampered_file_is_refused(minilm, image_captions, tmp_path):
    saved = Bank.from_texts(image_captions[:100], minilm).save(tmp_path / "bank")
    manifest = json.loads((saved / "manifest.json").read_text())
    assert set(GRAMMAR_FILES) <= set(manifest["files"])  # listed with their size and sha256, as texts and index are
    bank = load_bank(saved)
    assert isinstance(bank.texts, CorpusTexts) and isinstance(EditGenerator().grammar(bank.texts), MappedGrammar)
    assert bank.texts.grammar.words == CorpusGrammar(image_captions[:100]).words
    Bank.from_texts(image_captions[:100], minilm).save(saved, overwrite=True)  # its own files are replaced, not refused
    pairs = saved / "grammar_pairs.npy"
    np.save(pairs, np.load(pairs)[:-1], allow_pickle=False)  # another bank's grammar, or a damaged one
    with pytest.raises(BankError, match="grammar_pairs.npy does not match its manifest checksum"):
        load_bank(saved)
    other = Bank.from_texts(image_captions[100:200], minilm).save(tmp_path / "other")
    Bank.from_texts(image_captions[:100], minilm).save(saved, overwrite=True)
    shutil.copyfile(other / "grammar_words.npy", saved / "grammar_words.npy")  # a whole, valid grammar file of another bank
    with pytest.raises(BankError, match="grammar_words.npy does not match its manifest checksum: .*swapped for another bank's"):
        load_bank(saved)


@pytest.mark.slow
def test_edit_inverts_50_mils_targets_the_same_with_a_saved_bank_s_grammar(minilm, image_captions, tmp_path):
    """Issue 26's check: the same edit outputs from the files a bank ships as from the grammar built in memory."""
    lines = mils_image_lines()
    targets = minilm.embed_text([lines[i] for i in range(1000, 26000, 500)])  # 50 captions the bank lacks
    built = Bank.from_texts(image_captions, minilm)
    mapped = load_bank(built.save(tmp_path / "bank"))
    assert isinstance(mapped.texts, CorpusTexts)
    built.texts = list(built.texts)  # save() gave it its files too: this one builds its grammar from the texts
    options = dict(space=minilm, generator="edit", steps=2, keep=5, requested=5, fluency=False, seed=0)
    expected, found = invert_many(targets, bank=built, **options), invert_many(targets, bank=mapped, **options)
    assert [(each.text, each.score) for each in found] == [(each.text, each.score) for each in expected]
    assert sum(each.text != each.bootstrap_text for each in expected) >= 10  # the edits did something
