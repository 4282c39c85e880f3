"""The edit generator's corpus grammar, built in memory (`CorpusGrammar`) and as files (`write_grammar`, then
`MappedGrammar`): seconds to build and to open, bytes on disk, and each process's resident memory (`run_grammar`).
Each measurement runs in a fresh Python process, so one's memory is not another's. Corpora: MILS's image and audio
captions, and `synthetic_captions` for sizes MILS does not reach.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import checks

MILS_SOURCES = ("mils-image", "mils-audio")


def mils_lines() -> list[str]:
    """MILS's image and audio caption lines (normalised, without duplicates)."""
    from ..index import collect_captions

    return collect_captions(list(MILS_SOURCES))


def synthetic_captions(n: int, seed: int = 0, lines: list[str] | None = None) -> list[str]:
    """`n` captions, each the first half of one MILS line (its words) and the second half of another, drawn with a
    seeded generator: a corpus of any size whose words, pairs and phrases are MILS's, joined where no caption joins."""
    lines = mils_lines() if lines is None else lines
    rng = np.random.default_rng(seed)
    split = [line.split() for line in lines]
    pairs = rng.integers(len(split), size=(checks.count(n, "n"), 2)).tolist()
    return [" ".join(split[a][: len(split[a]) // 2] + split[b][len(split[b]) // 2 :]) for a, b in pairs]


# Run in a fresh process: read the corpus, then build or open its grammar and ask it about its first texts.
_MEASURE = """
import json, sys, time
from unembed.corpus.grammar import CorpusGrammar, words_of
from unembed.corpus.grammar_files import MappedGrammar, write_grammar

def rss(field="VmRSS"):  # RssAnon: this process's own (not file pages another process shares); VmHWM: the peak
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field + ":")) / 1024

how, corpus, folder = sys.argv[1:]
texts = open(corpus, encoding="utf-8").read().split("\\n")
before, anon = rss(), rss("RssAnon")
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # VmHWM from here (ru_maxrss cannot be reset, and counts the parent's, inherited through fork)
started = time.perf_counter()
if how == "write":
    write_grammar(texts, folder)
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_rss_mb": rss("VmHWM") - before}))
    sys.exit()
grammar = CorpusGrammar(texts) if how == "memory" else MappedGrammar(folder)
seconds = time.perf_counter() - started
opened = rss()
asked = time.perf_counter()
for text in texts[:2000]:
    words = words_of(text)
    grammar.novel(words), grammar.loose_glue(words), tuple(words[:3]) in grammar.phrases
asked = time.perf_counter() - asked
print(json.dumps({
    "seconds": seconds, "rss_mb": opened - before, "rss_after_questions_mb": rss() - before,
    "own_rss_after_questions_mb": rss("RssAnon") - anon, "questions_s": asked,
}))
"""


def _measure(how: str, corpus: Path, folder: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", _MEASURE, how, str(corpus), str(folder)], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"the {how} measurement failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def run_grammar(*, n: int = 1_000_000, seed: int = 0, memory: bool = True) -> dict:
    """The report, for MILS's lines and for `n` synthetic captions: per corpus, `write` (seconds to build the files
    from the texts, and that process's peak memory), `disk_mb`, `mapped` (seconds to open the files; resident memory
    after opening and after 2,000 texts' questions, and the part of that the process does not share; the questions'
    seconds), and with `memory`, `in_memory` (the same for `CorpusGrammar`, built from the texts)."""
    lines = mils_lines()
    report: dict = {}
    for name, texts in (("mils", lines), (f"synthetic-{n}", synthetic_captions(n, seed, lines))):
        with tempfile.TemporaryDirectory() as scratch:
            corpus, folder = Path(scratch) / "texts.txt", Path(scratch) / "grammar"
            corpus.write_text("\n".join(texts), encoding="utf-8")
            row: dict[str, Any] = {"texts": len(texts), "write": _measure("write", corpus, folder)}
            row["disk_mb"] = sum(path.stat().st_size for path in folder.iterdir()) / 2**20
            row["mapped"] = _measure("mapped", corpus, folder)
            if memory:
                built, mapped = _measure("memory", corpus, folder), row["mapped"]
                row["in_memory"] = built
                # The baseline is the grammar built from the texts, in the same run on the same corpus.
                row["mapped_vs_in_memory"] = {
                    "open_seconds": mapped["seconds"] / built["seconds"],
                    "rss_after_questions": mapped["rss_after_questions_mb"] / built["rss_after_questions_mb"],
                    "own_rss_after_questions": mapped["own_rss_after_questions_mb"] / built["own_rss_after_questions_mb"],
                    "questions_seconds": mapped["questions_s"] / built["questions_s"],
                }
        report[name] = row
    return report
