"""`transformers:ID_OR_PATH`: any causal LM that transformers loads, with batched generation.

All calls of a step go through the model as left-padded batches of `batch_size`. The chat
template comes from the tokenizer; a model without one gets the bare prompt.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch
import transformers

from ..download import UNREACHABLE, hub_out_of_reach
from ..errors import GeneratorError, WeightsNotFoundError
from .base import Call, ChatGenerator, Completion


class TransformersGenerator(ChatGenerator):
    def __init__(
        self,
        model_id_or_path: str,
        *,
        temperature: float = 0.7,
        top_p: float = 0.9,
        repetition_penalty: float = 1.0,
        lines_per_call: int = 50,
        batch_size: int = 8,
        device: str | None = None,
        dtype: str | None = None,
    ):
        self.spec = f"transformers:{model_id_or_path}"
        cache_only = not Path(model_id_or_path).is_dir() and hub_out_of_reach()
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(model_id_or_path, local_files_only=cache_only)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                model_id_or_path, dtype=getattr(torch, dtype) if dtype else "auto", local_files_only=cache_only
            )
        except OSError as error:
            raise WeightsNotFoundError(
                f"transformers could not load {model_id_or_path!r}: {f'{UNREACHABLE}, and it is not there' if cache_only else error}. "
                "Offline? Give a local model folder (transformers:/path/to/model) or use the offline default --generator llama.cpp."
            ) from error
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()  # type: ignore[arg-type]  # transformers types `to` as a wrapped method of PreTrainedModel
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.temperature, self.top_p, self.repetition_penalty = temperature, top_p, repetition_penalty
        self.lines_per_call, self.batch_size = lines_per_call, batch_size

    def _render(self, prompt: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return str(
                self.tokenizer.apply_chat_template(  # a str with tokenize=False
                    [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
                )
            )
        return prompt

    def _complete(self, calls: list[Call]) -> list[Completion | Exception]:
        answers: list[Completion | Exception] = []
        for start in range(0, len(calls), self.batch_size):
            batch = calls[start : start + self.batch_size]
            # One generator seed per batch: transformers samples a batch from one RNG stream.
            torch.manual_seed(batch[0].seed)
            try:
                with _serial_tokenizer():
                    encoded = self.tokenizer([self._render(call.prompt) for call in batch], return_tensors="pt", padding=True)
                encoded = encoded.to(self.device)
                with torch.inference_mode():
                    output = self.model.generate(
                        **encoded,
                        do_sample=self.temperature > 0,
                        temperature=self.temperature or None,
                        top_p=self.top_p,
                        repetition_penalty=self.repetition_penalty,
                        max_new_tokens=max(self._max_tokens(call.lines, call.max_words) for call in batch),
                        pad_token_id=self.tokenizer.pad_token_id,
                    )
            except (RuntimeError, ValueError) as error:
                answers.extend(error for _ in batch)
                continue
            prompt_length = encoded["input_ids"].shape[1]
            for row in range(len(batch)):
                new_tokens = output[row, prompt_length:]
                text = str(self.tokenizer.decode(new_tokens, skip_special_tokens=True))  # one sequence: one str
                produced = int((new_tokens != self.tokenizer.pad_token_id).sum())
                prompt_tokens = int(encoded["attention_mask"][row].sum())
                answers.append(Completion(text=text, prompt_tokens=prompt_tokens, completion_tokens=produced))
        return answers


@contextlib.contextmanager
def _serial_tokenizer():
    """Batch-encode without the tokenizers library's thread pool, for this call only (unless the user set
    TOKENIZERS_PARALLELISM): once that pool has run, every later fork of the process (a llama.cpp server, a
    worker) prints a warning and turns parallelism off. The variable is restored on the way out, so the
    process's environment, and what subprocesses inherit, stay the user's."""
    if "TOKENIZERS_PARALLELISM" in os.environ:
        yield
        return
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    try:
        yield
    finally:
        os.environ.pop("TOKENIZERS_PARALLELISM", None)


def load_transformers(argument: str, **options) -> TransformersGenerator:
    if not argument:
        raise GeneratorError("the transformers generator needs a model: transformers:ID_OR_LOCAL_PATH.")
    return TransformersGenerator(argument, **options)
