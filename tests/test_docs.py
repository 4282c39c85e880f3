"""README.md and the docs site (docs/**/*.md): their figures agree with docs/bench, and their code blocks run.

How a page's code blocks are run (a reader's session, top to bottom):

- ```python blocks are executed in page order in one namespace per page (later blocks use what earlier ones made),
  in a fresh temporary folder that is the working directory of the whole page.
- ```bash blocks run in the same folder with `bash -e`, the venv's bin folder first on PATH, so `unembed` and
  `python` are this checkout's. Every command in them starts with `unembed` or `python` (comments and backslash
  continuations are fine); anything else (pip, apt-get, make) must be marked no-run.
- A ```text block right after a python or bash block (only blank lines between) is what that block prints on
  stdout. It is compared exactly, line by line, trailing spaces stripped: no tolerance, so the examples print
  rounded figures. stderr (progress bars, warnings) is not compared. A block with no ```text after it may print
  anything.
- `<!-- no-run: REASON -->` on the line before a fence: the block is not run, for REASON (e.g. it needs ImageBind
  weights, which cannot be downloaded offline). `<!-- slow: REASON -->`: it runs, but its page's test is marked
  slow (left out of `make test-fast`; `make test` and CI run it).
- A fence with no language is a diagram; ```json and other data are not run. ```sh, ```shell and ```console are
  refused: write ```bash.

Figures: every table between `<!-- figures: NAME -->` and `<!-- /figures -->` must be what `python docs/figures.py`
generates from docs/bench/*.json, and every report there must carry its "measured" record and appear on the
Benchmarks page.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RUN = {"python", "bash"}
REFUSED = {"sh", "shell", "console", "py", "python3", "pycon"}
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
MARK = re.compile(r"<!-- (?P<kind>no-run|slow): *(?P<reason>.*?) *-->\s*$")


def _figures():
    spec = importlib.util.spec_from_file_location("docs_figures", ROOT / "docs" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


figures = _figures()


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    code: str
    expected: str | None  # the ```text block after it: its stdout
    mark: str | None  # "no-run" or "slow"
    reason: str | None

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    matches = list(FENCE.finditer(text))
    outputs = set()
    for i, match in enumerate(matches):
        lang = match["lang"]
        if i in outputs or lang not in RUN:
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARK.search(before)
        expected = None
        if i + 1 < len(matches) and matches[i + 1]["lang"] == "text" and not text[match.end(): matches[i + 1].start()].strip():
            expected = matches[i + 1]["body"]
            outputs.add(i + 1)
        body = "\n".join(line[len(match["indent"]):] for line in match["body"].split("\n"))
        found.append(Block(page, text.count("\n", 0, match.start()) + 1, lang, body, expected, mark and mark["kind"],
                           mark and mark["reason"]))
    return found


def pages() -> list[Path]:
    return figures.pages()


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").split("\n")] if text.strip() else []


def _commands(code: str) -> list[str]:
    """The simple commands of a bash block: split at unquoted newlines, `;`, `&&`, `||` and `|`; comments and
    backslash-newlines dropped; quoted text (a `python -c "..."` over several lines) kept whole."""
    commands, current, quote, i = [], "", None, 0
    while i < len(code):
        c = code[i]
        if quote:
            current += c
            if c == "\\" and quote == '"':
                current += code[i + 1: i + 2]
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote, current = c, current + c
        elif c == "\\" and code[i + 1: i + 2] == "\n":
            current += " "
            i += 1
        elif c == "#" and (not current or current[-1].isspace()):
            while i + 1 < len(code) and code[i + 1] != "\n":
                i += 1
        elif c in "\n;" or code[i: i + 2] in ("&&", "||") or (c == "|" and code[i - 1: i] != ">"):
            commands.append(current)
            current = ""
            i += 1 if code[i: i + 2] in ("&&", "||") else 0
        else:
            current += c
        i += 1
    return [command.strip() for command in commands + [current] if command.strip()]


def _run_python(block: Block, namespace: dict) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block.code, block.where(), "exec"), namespace)
    return out.getvalue()


def _run_bash(block: Block, folder: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(["bash", "-e", "-c", block.code], cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{block.where()}: exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _page_params():
    params = []
    for page in pages():
        found = blocks(page)
        if not any(block.mark != "no-run" for block in found):
            continue
        marks = [pytest.mark.slow] if any(block.mark == "slow" for block in found) else []
        params.append(pytest.param(page, marks=marks, id=str(page.relative_to(ROOT))))
    return params


def test_every_block_is_runnable_or_says_why_not():
    problems = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match["lang"] in REFUSED:
                problems.append(f"{page.relative_to(ROOT)}: ```{match['lang']} block: write ```bash (or ```python)")
        for block in blocks(page):
            if block.mark and not block.reason:
                problems.append(f"{block.where()}: a {block.mark} marker needs its reason")
            if block.lang == "bash" and block.mark != "no-run":
                for command in _commands(block.code):
                    if command.split()[0] not in ("unembed", "python"):
                        problems.append(f"{block.where()}: `{command}` is neither `unembed` nor `python`: mark the block no-run, with why")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", _page_params())
def test_code_blocks_run_and_print_what_the_page_shows(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    for block in blocks(page):
        if block.mark == "no-run":
            continue
        printed = _run_python(block, namespace) if block.lang == "python" else _run_bash(block, tmp_path)
        if block.expected is not None:
            assert _lines(printed) == _lines(block.expected), f"{block.where()} printed:\n{printed}"


def test_readme_links_reach_files():
    """README.md is read on the repository's page, outside the docs site's link check (`mkdocs build --strict`)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [link for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text) if not (ROOT / link).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_figures_are_generated_from_the_bench_reports():
    stale = [str(page.relative_to(ROOT)) for page in pages() if figures.render(page.read_text(encoding="utf-8")) != page.read_text(encoding="utf-8")]
    assert not stale, f"figures differ from docs/bench/*.json in {stale}: run `python docs/figures.py`"


def test_every_report_has_its_measured_record_and_is_on_the_benchmarks_page():
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    listed = {name for match in figures.MARKER.finditer(page) if match["spec"].split()[0] == "measured" for name in match["spec"].split()[1:]}
    for name in figures.reports():
        record = figures.report(name).get("measured")
        assert record and {"command", "machine", "load", "commit", "date"} <= set(record), f"docs/bench/{name}.json: measured record"
        assert name in listed, f"docs/bench/{name}.json is not on the Benchmarks page"


def test_unembed_bench_records_how_it_measured():
    from unembed.cli.bench import measured

    record = measured(["unembed", "bench", "bank", "--n", "10", "--json", "a b.json"], [1.0, 2.0, 3.0])
    assert record["command"] == "unembed bench bank --n 10 --json 'a b.json'"
    assert record["load"]["start"] == [1.0, 2.0, 3.0] and len(record["load"]["end"]) == 3
    assert str(os.cpu_count()) in record["machine"] and record["date"][:2] == "20"
    assert record["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", record["commit"])
