"""What a corpus (a caption bank's texts) says about word order, for the `edit` generator's rules.

`CorpusGrammar` (grammar.py) holds the corpus's word pairs, triples, contexts and phrases, built from its texts in
memory; `write_grammar` and `MappedGrammar` (grammar_files.py) keep the same tables as .npy files that a bank writes
beside its index and every process maps instead of building them again (`CorpusTexts`: a bank's texts with theirs).
It sits below both the banks (`unembed.index`, which write the files) and the generators (which read them).
"""

from .grammar import CorpusGrammar, grammar_for, join_words, words_of
from .grammar_files import GRAMMAR_FILES, CorpusTexts, MappedGrammar, write_grammar

__all__ = ["GRAMMAR_FILES", "CorpusGrammar", "CorpusTexts", "MappedGrammar", "grammar_for", "join_words", "words_of", "write_grammar"]
