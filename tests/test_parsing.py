"""Parsing an LLM's numbered list: property tests on arbitrary output, and the ways small models break it."""

import string
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from unembed.generators.llama_cpp import numbered_list_grammar
from unembed.generators.parsing import _DANGLING, candidate_key, clean_candidate, parse_numbered_lines

words = st.text(alphabet=string.ascii_letters, min_size=1, max_size=9)
# Function words cannot end a candidate (the parser trims them as cut-off tails).
last_words = words.filter(lambda word: word.lower() not in _DANGLING)
sentences = st.tuples(st.lists(words, max_size=9), last_words).map(lambda parts: " ".join([*parts[0], parts[1]]))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_output_parses_to_clean_unique_lines(answer):
    texts = parse_numbered_lines(answer, max_words=10)
    keys = [candidate_key(text) for text in texts]
    assert len(keys) == len(set(keys))
    for text in texts:
        assert text == text.strip() and not any(unicodedata.category(character) == "Cc" for character in text)
        assert any(character.isalpha() for character in text)
        assert len(text.split()) <= 20
        assert "<|" not in text


@settings(max_examples=200, deadline=None)
@given(
    st.lists(sentences, min_size=1, max_size=12),
    st.sampled_from(["{n}. {t}", "{n}) {t}", "**{n}.** {t}", "# {n}. {t}", "{n} . {t}", "  {n}.  {t}  "]),
)
def test_numbered_sentences_round_trip(items, style):
    answer = "Here are some descriptions:\n" + "\n".join(style.format(n=n, t=t) for n, t in enumerate(items, 1))
    first_of_each = {}
    for text in items:
        first_of_each.setdefault(candidate_key(text), text)
    assert parse_numbered_lines(answer) == list(first_of_each.values())


@given(st.lists(sentences, min_size=1, max_size=5))
def test_no_counter_no_candidate(items):
    assert parse_numbered_lines("\n".join(items)) == []


def test_small_model_habits():
    answer = (
        "Sure! Here are 5 descriptions:\n"
        "1. 0.912: A dog on the beach (score: 0.95)\n"
        "# 10. A brown dog catching a frisbee\n"
        "**3.** \"Puppy running on sand\"\n"
        "4) a dog on the beach.\n"
        "5. 1234\n"
        "6. A dog on the beach<|im_end|>\n"
        "7.\n"
        "I hope these help!"
    )
    assert parse_numbered_lines(answer) == [
        "A dog on the beach",
        "A brown dog catching a frisbee",
        "Puppy running on sand",
    ]


def test_cut_off_tails_are_trimmed():
    assert clean_candidate("A swimming cap with a") == "A swimming cap"
    assert clean_candidate("a pool that is...") == "a pool"
    assert parse_numbered_lines("1. in the\n2. A dog on the beach.") == ["A dog on the beach"]


def test_rambling_lines_are_dropped():
    long_line = " ".join(["word"] * 25)
    assert parse_numbered_lines(f"1. {long_line}\n2. short one", max_words=10) == ["short one"]


def test_grammar_names_every_line():
    grammar = numbered_list_grammar(3, 10)
    assert 'line3 ::= "3. " text "\\n"' in grammar and "line4" not in grammar
    assert "{0,9}" in grammar


@settings(max_examples=200, deadline=None)
@given(st.lists(sentences, min_size=0, max_size=40), st.integers(min_value=1, max_value=12))
def test_an_answer_is_capped_at_the_lines_asked_for(items, limit):
    answer = "\n".join(f"{n}. {text}" for n, text in enumerate(items, 1))
    everything = parse_numbered_lines(answer)
    assert parse_numbered_lines(answer, limit=limit) == everything[:limit]
