"""The corpus grammar as files: `write_grammar` writes the tables of a `CorpusGrammar` as a few .npy arrays, and
`MappedGrammar` answers the same questions from them memory-mapped. Built from the texts, the grammar is Python sets
and dicts, built again and held whole in every process that edits (each Ray worker, a server); mapped, every process
that opens the files shares one copy in the page cache, and opening them reads almost nothing.

    grammar_shape.npy    int64[5]: format, then the lengths of words, pairs, triples and phrases (a check)
    grammar_words.npy    uint8: the vocabulary, UTF-8 with "\\n" between words; a word's id is its place: 0 and 1
                         are <s> and </s>, then the corpus's words in the order they first occur (`words`)
    grammar_most.npy     int32[words]: the most times each word occurs in one text
    grammar_pairs.npy    int64[pairs], sorted: left << B | right, every word pair seen side by side
    grammar_triples.npy  int64[triples], sorted: word << 2B | left << B | right, so a word's contexts are one run
    grammar_counts.npy   uint32[triples]: how often each triple occurs, in grammar_triples's order
    grammar_fillers.npy  int64[triples], sorted: left << 2B | right << B | word, so a context's fillers are one run
    grammar_phrases.npy  uint64[phrases], sorted: each phrase's `_phrase_hash`

B is the fewest bits that hold every word id (3B <= 63: up to 2**21 words). Every lookup is a binary search.
"""

from __future__ import annotations

import array
import functools
import hashlib
import os
from collections.abc import Collection, Container, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import BankError, InputError
from .grammar import SHARED_CONTEXTS, SHARED_SHARE, CorpusGrammar, phrases_of, words_of

GRAMMAR_FORMAT = 1
# Each array's dtype, and which entry of grammar_shape.npy is its length (checked on opening: a file of other texts'
# grammar, or cut short, is named). Written in this order, grammar_shape.npy last: a first write that stopped part way
# lacks it.
_ARRAYS = {
    "words": (np.uint8, 1),  # checked by the words it decodes to, not its bytes
    "most": (np.int32, 1),
    "pairs": (np.int64, 2),
    "triples": (np.int64, 3),
    "counts": (np.uint32, 3),
    "fillers": (np.int64, 3),
    "phrases": (np.uint64, 4),
    "shape": (np.int64, None),
}
GRAMMAR_FILES = tuple(f"grammar_{key}.npy" for key in _ARRAYS)
_REWRITE = "Write it again with unembed.corpus.grammar_files.write_grammar (for a bank: `unembed bank build --overwrite`)."


def _phrase_hash(phrase: Sequence[str]) -> int:
    """A phrase's 64-bit blake2b, the same in every process (Python's hash() is not). Phrases are kept only as these:
    two distinct phrases share one with odds near 2**-64 per pair, so among a few million phrases a phrase the corpus
    never held passes as one it did about once in 10**12 lookups."""
    return int.from_bytes(hashlib.blake2b(" ".join(phrase).encode(), digest_size=8).digest(), "little")


def write_grammar(texts: Iterable[str], folder: str | os.PathLike) -> list[Path]:
    """Write the grammar of `texts` (what `CorpusGrammar(texts)` holds) into `folder` as `GRAMMAR_FILES`; each file is
    written whole or not at all (`atomic`). Returns their paths, in GRAMMAR_FILES's order."""
    ids: dict[str, int] = {"<s>": 0, "</s>": 1}
    stream = array.array("q")  # every text's word ids, between <s> (0) and </s> (1)
    digests = bytearray()
    for text in texts:
        words = words_of(text)
        stream.append(0)
        stream.extend([ids.setdefault(word, len(ids)) for word in words])
        stream.append(1)
        digests += b"".join(_phrase_hash(phrase).to_bytes(8, "little") for phrase in phrases_of(words))
    bits = max(1, (len(ids) - 1).bit_length())
    if 3 * bits > 63:
        raise InputError(f"the corpus has {len(ids) - 2} distinct words; the grammar files hold at most {2**21 - 2}.")
    mask = (1 << bits) - 1
    padded = np.frombuffer(stream, dtype=np.int64)
    ends = padded == 1
    starts = np.flatnonzero(~ends[:-1])  # a pair never runs from one text's </s> into the next's <s>
    pairs = np.unique(padded[starts] << bits | padded[starts + 1])
    inner = np.flatnonzero(padded > 1)  # each word with its neighbours is one triple
    if len(inner) >= 2**32:
        raise InputError(f"the corpus holds {len(inner)} words; the grammar files count at most {2**32 - 1} (as uint32).")
    left, word, right = padded[inner - 1], padded[inner], padded[inner + 1]
    triples, counts = np.unique(word << 2 * bits | left << bits | right, return_counts=True)
    word, left, right = triples >> 2 * bits, triples >> bits & mask, triples & mask
    fillers = np.sort(left << 2 * bits | right << bits | word)
    # A word's most in one text: count (text number, word) keys, then keep each word's largest count.
    text_of = np.cumsum(padded == 0)[inner]
    keys, times = np.unique(text_of << bits | padded[inner], return_counts=True)
    most = np.zeros(len(ids), dtype=np.int32)
    np.maximum.at(most, keys & mask, times.astype(np.int32))
    phrases = np.unique(np.frombuffer(bytes(digests), dtype="<u8"))
    vocabulary = np.frombuffer("\n".join(ids).encode("utf-8"), dtype=np.uint8)
    shape = np.array([GRAMMAR_FORMAT, len(ids), len(pairs), len(triples), len(phrases)], dtype=np.int64)
    tables = dict(words=vocabulary, most=most, pairs=pairs, triples=triples, counts=counts, fillers=fillers, phrases=phrases, shape=shape)
    folder = Path(folder)
    return [atomic.save_npy(folder / f"grammar_{key}.npy", tables[key].astype(dtype, copy=False)) for key, (dtype, _) in _ARRAYS.items()]


class MappedGrammar(CorpusGrammar):
    """A CorpusGrammar opened from the files `write_grammar` wrote in `folder`, memory-mapped: its tables are views
    that search the sorted arrays, and it answers every question as the grammar built from the same texts does.
    It does not hold the texts. Pickled, it is its folder: a process that unpickles it maps the files again."""

    def __init__(self, folder: str | os.PathLike, *, shared_contexts: int = SHARED_CONTEXTS, shared_share: float = SHARED_SHARE):
        # Not CorpusGrammar.__init__: the tables come from the files, not from texts.
        self.folder = Path(folder)
        self.shared_contexts, self.shared_share = shared_contexts, shared_share
        tables = {key: _open(self.folder / f"grammar_{key}.npy", dtype) for key, (dtype, _) in _ARRAYS.items()}
        shape = tables["shape"]
        if len(shape) != 5 or shape[0] != GRAMMAR_FORMAT:
            raise BankError(f"{self.folder / 'grammar_shape.npy'} is not of grammar format {GRAMMAR_FORMAT}. {_REWRITE}")
        try:
            self._names = bytes(tables["words"]).decode("utf-8").split("\n")
        except UnicodeDecodeError:
            self._names = []
        for key, (_, entry) in _ARRAYS.items():
            length = len(self._names) if key == "words" else len(tables[key])
            if entry is not None and length != shape[entry]:
                raise BankError(
                    f"{self.folder / f'grammar_{key}.npy'} holds {length} entries where grammar_shape.npy says {shape[entry]}: "
                    f"the files are damaged or of different corpora. {_REWRITE}"
                )
        self._ids = {word: number for number, word in enumerate(self._names)}
        self._bits = max(1, (len(self._names) - 1).bit_length())
        self._most, self._pairs, self.phrases_of = tables["most"], tables["pairs"], tables["phrases"]
        self._triples, self._counts, self._fillers = tables["triples"], tables["counts"], tables["fillers"]
        self.words = self._names[2:]
        self.pairs, self.contexts, self.fillers = _Pairs(self), _Contexts(self), _Fillers(self)
        self.triples, self.most = _Triples(self), _Most(self)
        self._alike = {}

    def __reduce__(self):
        return _reopen, (self.folder, self.shared_contexts, self.shared_share)

    @property
    def phrases(self) -> Container[tuple[str, ...]]:  # a view of the hashes, not CorpusGrammar's cached set
        return _Phrases(self.phrases_of)

    def stood(self, word: str, left: str, right: str) -> bool:
        key = self._key(word, left, right)
        return key is not None and _holds(self._triples, key)

    def _overlap(self, first: str, second: str) -> tuple[int, int]:
        mine, theirs = self._contexts_of(first), self._contexts_of(second)
        return len(np.intersect1d(mine, theirs, assume_unique=True)), min(len(mine), len(theirs))

    def _key(self, *words: str) -> int | None:
        """The words' ids packed into one key (B bits each, the first highest), or None for a word the corpus lacks."""
        key = 0
        for word in words:
            number = self._ids.get(word)
            if number is None:
                return None
            key = key << self._bits | number
        return key

    def _run(self, keys: np.ndarray, *words: str) -> np.ndarray:
        """The keys of `keys` that start with these words' ids, less those ids: a word's contexts, a context's fillers."""
        prefix = self._key(*words)
        if prefix is None:
            return keys[:0]
        shift = self._bits * (3 - len(words))
        low, high = keys.searchsorted([prefix << shift, prefix + 1 << shift])
        return keys[low:high] & (1 << shift) - 1

    def _contexts_of(self, word: str) -> np.ndarray:
        return self._run(self._triples, word)

    def _name(self, number: int) -> str:
        return self._names[number]


class CorpusTexts(list[str]):
    """A corpus's texts carrying the grammar `write_grammar` wrote for them in `folder`: what a bank gives as its texts,
    so that the edit generator (`grammar_for`) maps the bank's grammar, opened when first asked for, instead of building one."""

    def __init__(self, texts: Iterable[str], folder: str | os.PathLike):
        super().__init__(texts)
        self.folder = Path(folder)

    @functools.cached_property
    def grammar(self) -> MappedGrammar:
        return MappedGrammar(self.folder)


def _reopen(folder: Path, shared_contexts: int, shared_share: float) -> MappedGrammar:
    return MappedGrammar(folder, shared_contexts=shared_contexts, shared_share=shared_share)


def _open(path: Path, dtype) -> np.ndarray:
    """One grammar file, memory-mapped (its pages are read when a lookup touches them), checked for its kind."""
    try:
        table = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError as error:
        raise BankError(f"{path} is missing: the grammar files are incomplete. {_REWRITE}") from error
    except (OSError, ValueError, EOFError) as error:
        raise BankError(f"{path} is damaged or not a grammar file ({error}). {_REWRITE}") from error
    if table.dtype != dtype or table.ndim != 1:
        raise BankError(f"{path} holds {table.dtype}[{table.shape}], not a grammar file's {np.dtype(dtype)} row. {_REWRITE}")
    return table.view(np.ndarray)  # a plain array on the same pages: np.memmap's own slicing is slow


def _holds(keys: np.ndarray, key: int) -> bool:
    """Whether the sorted `keys` hold `key`."""
    at = int(keys.searchsorted(key))
    return at < len(keys) and int(keys[at]) == key


# The tables as the rules read them (`CorpusGrammar`'s annotations): each looks its answer up in the sorted arrays.


class _Pairs(Container[tuple[str, str]]):
    def __init__(self, grammar: MappedGrammar):
        self.grammar = grammar

    def __contains__(self, pair) -> bool:
        key = self.grammar._key(*pair)
        return key is not None and _holds(self.grammar._pairs, key)


class _WordContexts(AbstractSet[tuple[str, str]]):
    """A word's contexts: its run of grammar_triples, each (left, right) packed in 2B bits."""

    def __init__(self, grammar: MappedGrammar, word: str, keys: np.ndarray):
        self.grammar, self.word, self.keys = grammar, word, keys

    def __contains__(self, context) -> bool:
        return self.grammar.stood(self.word, *context)

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        bits, name = self.grammar._bits, self.grammar._name
        return ((name(key >> bits), name(key & (1 << bits) - 1)) for key in self.keys.tolist())


class _Contexts(Mapping[str, AbstractSet[tuple[str, str]]]):
    def __init__(self, grammar: MappedGrammar):
        self.grammar = grammar

    def __getitem__(self, word: str) -> AbstractSet[tuple[str, str]]:
        keys = self.grammar._contexts_of(word)
        if not len(keys):
            raise KeyError(word)
        return _WordContexts(self.grammar, word, keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self.grammar.words)

    def __len__(self) -> int:
        return len(self.grammar.words)


class _Fillers(Mapping[tuple[str, str], Collection[str]]):
    def __init__(self, grammar: MappedGrammar):
        self.grammar = grammar

    def __getitem__(self, context: tuple[str, str]) -> Collection[str]:
        fillers = self.grammar._run(self.grammar._fillers, *context)
        if not len(fillers):
            raise KeyError(context)
        return [self.grammar._name(number) for number in fillers.tolist()]

    def _contexts(self) -> np.ndarray:
        return np.unique(self.grammar._fillers >> self.grammar._bits)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        bits, name = self.grammar._bits, self.grammar._name
        return ((name(key >> bits), name(key & (1 << bits) - 1)) for key in self._contexts().tolist())

    def __len__(self) -> int:
        return len(self._contexts())


class _Triples(Mapping[tuple[str, str, str], int]):
    """How often each (left, word, right) occurs; 0 for one never seen, as a Counter answers."""

    def __init__(self, grammar: MappedGrammar):
        self.grammar = grammar

    def __getitem__(self, triple: tuple[str, str, str]) -> int:
        left, word, right = triple
        key, keys = self.grammar._key(word, left, right), self.grammar._triples
        if key is None:
            return 0
        at = int(keys.searchsorted(key))
        return int(self.grammar._counts[at]) if at < len(keys) and int(keys[at]) == key else 0

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        bits, name = self.grammar._bits, self.grammar._name
        mask = (1 << bits) - 1
        return ((name(key >> bits & mask), name(key >> 2 * bits), name(key & mask)) for key in self.grammar._triples.tolist())

    def __len__(self) -> int:
        return len(self.grammar._triples)


class _Most(Mapping[str, int]):
    """The most times each word occurs in one text; 0 for a word never seen, as a Counter answers."""

    def __init__(self, grammar: MappedGrammar):
        self.grammar = grammar

    def __getitem__(self, word: str) -> int:
        number = self.grammar._ids.get(word)
        return 0 if number is None else int(self.grammar._most[number])

    def __iter__(self) -> Iterator[str]:
        return iter(self.grammar.words)

    def __len__(self) -> int:
        return len(self.grammar.words)


class _Phrases(Container[tuple[str, ...]]):
    def __init__(self, hashes: np.ndarray):
        self.hashes = hashes

    def __contains__(self, phrase) -> bool:
        return _holds(self.hashes, _phrase_hash(phrase))
