"""`edit`: a proposer that sees through the space. It edits the best texts word by word and phrase
by phrase, scores every edit against the target while it searches, and keeps the best.

Each request's best candidates start a beam. One round expands every text of the beam with all its
single edits, scores them with the request's scorer (`ProposalRequest.score`: the loop's encoder
and cache, against this target) and keeps the best `beam` texts; `rounds` rounds per call. Edits, by
the kind the rules name them with:

- `substitute` a word with a word of the material (kept candidates, bank neighbours, and the bank
  vocabulary's words nearest the target, when the request carries a vocabulary), or `swap` two words;
- `insert` such a word, or `delete` one;
- `phrase`: replace, insert or delete a phrase (text between joins such as "and", "with", ",") with a
  phrase of the material;
- `trade` (`edit:lexicon`, below): a content word for a word nearest the target, in any context.

An edit stays only when it reads as the corpus (the bank's texts) reads. `RULES` is the table that
decides, for the search and for `refusal` (which names the rule that refuses an edit a researcher asks
about: "glue: 'in the left'"), each rule with the kinds of edit it applies to:
- `unseen-pair`: every word pair it creates was seen side by side there, except that a substituted
  content word needs only one of its two pairs seen when it is alike the word it replaces: the two
  share contexts, enough of them and a quarter of the rarer word's (so "red triangle" -> "blue
  triangle" passes when "blue circle" was seen, and "loud" does not stand in for "low-pitched");
- `function-word`: a function word goes only where it has stood; `glue`: articles keep their neighbours
  ("on the left" may not become "in the left" because "in the centre" exists);
- `novel-triples`: an insertion, deletion or phrase edit may not add more word triples that the corpus
  does not hold, even with a word alike the middle one, than it removes (a novel triple around "and"
  is fine);
- `rarer-triple`: a word inserted or deleted, or a function word replaced, may not leave a triple
  rarer in the corpus than the rarest it takes out: "and a loud bell" is English that a few MILS lines
  hold, but not in place of "and a high-pitched bell", which dozens of captions hold (phrases come
  whole from the corpus's texts; content words trade for alike ones freely, as that is how new scenes
  are named);
- `join-at-end`: no join starts or ends it unless corpus texts do; `repeats-as-seen`: no word occurs
  more often than it does in any one corpus text; and `repeated-word`, `repeated-phrase`,
  `punctuation-at-end`, `too-long`, `empty`, `phrase-kind`, `part-of-speech`, and `material` (what an edit puts
  in comes from the material above; see `RULES`).
That keeps edits grammatical without a language model, and lets them compose what no caption holds.
`why` says in a line why a text was not written from another (the CLI's `unembed invert --why`).

The corpus's word pairs also bound what it can say: "chef preparing food" cannot become "chef chopping
onions" when no caption says "chopping onions". `edit:lexicon` adds word trades (`lexical_edits`): a content
word for one of the words nearest the target that can be the same part of speech, in any context, each
kept only where a language model (SmolLM2) reads it at least as fluently as the text it edits.
Its tuning numbers are `EditSettings`; a spec sets them: `edit,beam=5`, `edit:lexicon,judge=/models/qwen.gguf`.

Its parts: `rules` (single edits, the `RULES` table, `refusal`, `why`) and `generator` (`EditGenerator`,
`EditSettings`, `load_edit`). What the corpus says about word order (`CorpusGrammar`) is `unembed.corpus`'s: a
bank built by unembed ships it as files that every process maps (`MappedGrammar`), a bank without them has it
built from its texts once per process.
"""

from ...corpus.grammar import CorpusGrammar, join_words, words_of
from .generator import EDIT_BEAM, LEXICON_BEAM, EditGenerator, EditSettings, load_edit
from .rules import KINDS, RULES, Edit, Rule, edit_kinds, lexical_edits, parts_of_speech, refusal, single_edits, well_formed, why

__all__ = [
    "EDIT_BEAM",
    "LEXICON_BEAM",
    "EditGenerator",
    "EditSettings",
    "load_edit",
    "CorpusGrammar",
    "join_words",
    "words_of",
    "KINDS",
    "RULES",
    "Edit",
    "Rule",
    "edit_kinds",
    "lexical_edits",
    "parts_of_speech",
    "refusal",
    "single_edits",
    "well_formed",
    "why",
]
