"""`openai:MODEL@BASE_URL`: any OpenAI-compatible chat-completions server (vLLM, llama.cpp, Ollama, ...).

Standard library only. The key comes from the `api_key` option or OPENAI_API_KEY; the base URL
from the spec, the `base_url` option or OPENAI_BASE_URL. The calls of one step run concurrently.
The server is asked for its model list before the loop starts, so a server that is down is an
error up front rather than a run of failed steps.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from ..errors import GeneratorError
from .base import Call, ChatGenerator, Completion


class OpenAIGenerator(ChatGenerator):
    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        temperature: float = 0.7,
        top_p: float = 0.9,
        presence_penalty: float = 0.6,
        lines_per_call: int = 50,
        concurrency: int = 8,
        timeout: float = 120.0,
        retries: int = 2,
        backoff: float = 0.5,
    ):
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.spec = f"openai:{model}@{self.base_url}"
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or ""
        self.temperature, self.top_p, self.presence_penalty = temperature, top_p, presence_penalty
        self.lines_per_call, self.concurrency, self.timeout = lines_per_call, concurrency, timeout
        self.retries, self.backoff = retries, backoff
        self._check_server()

    def _request(self, path: str, payload: dict | None = None, timeout: float | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
            return json.loads(response.read().decode("utf-8"))

    def _check_server(self) -> None:
        try:
            self._request("/models", timeout=10)
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                raise GeneratorError(
                    f"{self.base_url} refused the API key (HTTP {error.code}). Set OPENAI_API_KEY or pass api_key."
                ) from error
            # Some servers have no /models route; the chat route may still work.
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise GeneratorError(
                f"no OpenAI-compatible server answers at {self.base_url} ({error}). Start the server, or fix the "
                "URL in --generator openai:MODEL@http://host:port/v1."
            ) from error

    def _complete_one(self, call: Call) -> Completion | Exception:
        payload = {
            "model": self.model,
            "messages": [{"role": "user", "content": call.prompt}],
            "temperature": self.temperature,
            "top_p": self.top_p,
            "presence_penalty": self.presence_penalty,
            "max_tokens": self._max_tokens(call.lines, call.max_words),
            "stop": [f"\n{call.lines + 1}."],
            "seed": call.seed,
        }
        try:
            response = self._request("/chat/completions", payload)
            usage = response.get("usage") or {}
            return Completion(
                text=response["choices"][0]["message"].get("content") or "",
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
            )
        except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError) as error:
            return error

    def _complete(self, calls: list[Call]) -> list[Completion | Exception]:
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(calls)))) as pool:
            return list(pool.map(self._complete_one, calls))


def load_openai(argument: str, **options) -> OpenAIGenerator:
    model, _, base_url = argument.partition("@")
    if not model:
        raise GeneratorError(
            "the openai generator needs a model: openai:MODEL@http://host:port/v1 (or set OPENAI_BASE_URL)."
        )
    return OpenAIGenerator(model, base_url or None, **options)
