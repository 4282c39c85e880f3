"""`transformers:ID_OR_PATH`: any causal LM that transformers loads, with batched generation.

All calls of a step go through the model as left-padded batches of `batch_size`. The chat
template comes from the tokenizer; a model without one gets the bare prompt.
"""

from __future__ import annotations

import os

import torch
import transformers

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
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(model_id_or_path)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(
                model_id_or_path, dtype=getattr(torch, dtype) if dtype else "auto"
            )
        except OSError as error:
            raise WeightsNotFoundError(
                f"transformers could not load {model_id_or_path!r}: {error}. Offline? Give a local model folder "
                "(transformers:/path/to/model) or use the offline default --generator llama.cpp."
            ) from error
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.temperature, self.top_p, self.repetition_penalty = temperature, top_p, repetition_penalty
        self.lines_per_call, self.batch_size = lines_per_call, batch_size

    def _render(self, prompt: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        return prompt

    def _complete(self, calls: list[Call]) -> list[Completion | Exception]:
        answers: list[Completion | Exception] = []
        for start in range(0, len(calls), self.batch_size):
            batch = calls[start : start + self.batch_size]
            # One generator seed per batch: transformers samples a batch from one RNG stream.
            torch.manual_seed(batch[0].seed)
            try:
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
            for row, call in zip(range(len(batch)), batch):
                new_tokens = output[row, prompt_length:]
                text = self.tokenizer.decode(new_tokens, skip_special_tokens=True)
                produced = int((new_tokens != self.tokenizer.pad_token_id).sum())
                prompt_tokens = int(encoded["attention_mask"][row].sum())
                answers.append(Completion(text=text, prompt_tokens=prompt_tokens, completion_tokens=produced))
        return answers


def load_transformers(argument: str, **options) -> TransformersGenerator:
    if not argument:
        raise GeneratorError("the transformers generator needs a model: transformers:ID_OR_LOCAL_PATH.")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return TransformersGenerator(argument, **options)
