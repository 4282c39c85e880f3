"""`openai:MODEL@BASE_URL`: any OpenAI-compatible chat-completions server (vLLM, llama.cpp, Ollama, ...).

Through the official `openai` client (the `openai` extra). Its HTTP layer drops the Authorization
header when a redirect leads to another host, so the key goes only to the server it was given for.
The key comes from the `api_key` option or OPENAI_API_KEY; the base URL from the spec, the
`base_url` option or OPENAI_BASE_URL. The calls of one step run concurrently; `timeout` bounds the
whole step, retries included (ChatGenerator). The server is asked for its model list before the
loop starts, so a server that is down is an error up front rather than a run of failed steps.
"""

from __future__ import annotations

import os
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import openai

from .. import checks
from ..errors import GeneratorError
from ..secrets import redact, redact_url, remember
from .base import Call, ChatGenerator, Completion

CHECK_SECONDS = 10.0  # the up-front model-list request: a live server answers it at once


class OpenAIGenerator(ChatGenerator):
    timeout: float  # always bounded: set in __init__

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
        base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise GeneratorError(
                f"{redact_url(base_url)!r} is not an http(s) URL. Give the server's base URL: --generator openai:MODEL@http://host:port/v1."
            )
        self.base_url, self.model = base_url, model
        self.spec = f"openai:{model}@{redact_url(base_url)}"
        self.temperature, self.top_p, self.presence_penalty = temperature, top_p, presence_penalty
        self.lines_per_call = checks.count(lines_per_call, "lines_per_call")
        self.concurrency = checks.count(concurrency, "concurrency")
        self.retries, self.backoff = checks.count(retries, "retries", minimum=0), backoff
        self.set_timeout(timeout)
        key = api_key or os.environ.get("OPENAI_API_KEY")
        remember(key)  # whatever the server sends back, the key is taken out of what unembed writes
        remember(urllib.parse.urlsplit(base_url).password)
        # Retries are ours (ChatGenerator: new seed, bounded by the step's time budget), not the client's.
        self.client = openai.OpenAI(
            api_key=key or "no-key",
            base_url=base_url,
            max_retries=0,
            timeout=self.timeout,
        )
        self._check_server()

    def __repr__(self) -> str:  # never the client, which holds the key
        return f"OpenAIGenerator(spec={self.spec!r})"

    def _check_server(self) -> None:
        try:
            self.client.models.list(timeout=min(CHECK_SECONDS, self.timeout))
        except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
            raise GeneratorError(
                f"{redact_url(self.base_url)} refused the API key (HTTP {error.status_code}). Set OPENAI_API_KEY or pass api_key."
            ) from None
        except openai.APIConnectionError as error:  # timeouts included
            raise GeneratorError(
                f"no OpenAI-compatible server answers at {redact_url(self.base_url)} ({_describe(error)}). Start the server, "
                "or fix the URL in --generator openai:MODEL@http://host:port/v1."
            ) from None
        except (openai.OpenAIError, ValueError, TypeError):
            pass  # some servers have no (or an odd) /models route; the chat route may still work

    def _complete_one(self, call: Call) -> Completion | Exception:
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            return TimeoutError(f"timed out: the step's time budget of {self.timeout:g} s was spent")
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                **self._chat_arguments(call),
                timeout=remaining if remaining is not None else openai.NOT_GIVEN,
            )
            if not getattr(response, "choices", None):
                return GeneratorError("the server answered without any choice (an empty `choices` list)")
            usage = response.usage
            return Completion(
                text=response.choices[0].message.content or "",
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            )
        except openai.APITimeoutError:
            return TimeoutError(f"timed out after {remaining if remaining is not None else self.timeout:.3g} s")
        except openai.OpenAIError as error:
            return GeneratorError(_describe(error))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as error:  # answers of the wrong shape
            return GeneratorError(f"unreadable answer ({type(error).__name__}: {error})")

    def _complete(self, calls: list[Call]) -> list[Completion | Exception]:
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(calls)))) as pool:
            return list(pool.map(self._complete_one, calls))


def _describe(error: openai.OpenAIError) -> str:
    """A short, credential-free account of a client error: HTTP status and message, or the connection problem."""
    status = getattr(error, "status_code", None)
    message = redact(" ".join(str(getattr(error, "message", "") or error).split()))[:200]
    if status is not None:
        return f"HTTP {status}: {message}"
    cause = error.__cause__
    return f"{message} ({type(cause).__name__}: {redact(str(cause))})" if cause is not None and str(cause) not in message else message


def load_openai(argument: str, **options) -> OpenAIGenerator:
    model, _, base_url = argument.partition("@")
    if not model:
        raise GeneratorError("the openai generator needs a model: openai:MODEL@http://host:port/v1 (or set OPENAI_BASE_URL).")
    return OpenAIGenerator(model, base_url or None, **options)
