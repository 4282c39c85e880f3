"""`openai:MODEL@BASE_URL`: any OpenAI-compatible chat-completions server (vLLM, llama.cpp, Ollama, ...).

Through the official `openai` client (the `openai` extra). Its HTTP layer drops the Authorization
header when a redirect leads to another host, so the key goes only to the server it was given for.
The key comes from the `api_key` option or OPENAI_API_KEY; the base URL from the spec, the
`base_url` option or OPENAI_BASE_URL. The calls of one step run concurrently; `timeout` bounds the
whole step, retries included (ChatGenerator). The server is asked for its model list before the
loop starts, so a server that is down is an error up front rather than a run of failed steps.

httpx's `timeout` bounds each read, not a call: a server that sends a byte a second never trips it. So every
socket operation of a call (connect, TLS, write, each read) waits at most until the call's deadline, and a
call reads at most RESPONSE_CAP bytes (`_GuardedBackend`, under httpx's connection pool); an answer whose
Content-Length says more, or that comes compressed (it could unpack past the cap), is refused from its headers.
A redirect of the chat call is not followed but named (its status and Location): httpx would resend a 301 or 302
POST as a GET, whose answer (often the model list) reads as a chat answer without choices.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import queue
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import openai

from .. import checks
from ..errors import GeneratorError
from ..secrets import redact, redact_url, remember, remember_url_credentials
from .base import Call, ChatGenerator, Completion

if TYPE_CHECKING:
    import httpx2 as httpx
else:
    try:  # the guard must sit in the HTTP library the client uses: httpx2 for openai 3, httpx for openai 1 and 2
        import httpx2 as httpx

        if not issubclass(openai.DefaultHttpxClient, httpx.Client):
            raise ImportError("this openai is on httpx")
    except ImportError:
        import httpx

CHECK_SECONDS = 10.0  # the up-front model-list request: a live server answers it at once
RESPONSE_CAP = 8 * 2**20  # bytes one call may read: an LLM's 50 lines are a few KB, a long model list about 1 MB
# What an answer of the wrong shape raises in the openai client: JSON that is not an object where one is expected
# (AttributeError), of the wrong types, or nested deeper than Python's JSON parser recurses (RecursionError).
MALFORMED = (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError)


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
        remember_url_credentials(base_url)
        # Retries are ours (ChatGenerator: new seed, bounded by the step's time budget), not the client's.
        self.client = openai.OpenAI(
            api_key=key or "no-key",
            base_url=base_url,
            max_retries=0,
            timeout=self.timeout,
            http_client=_guarded_http_client(base_url),
        )
        try:
            self._check_server()
        except BaseException:
            self.client.close()
            raise

    def __repr__(self) -> str:  # never the client, which holds the key
        return f"OpenAIGenerator(spec={self.spec!r})"

    def _check_server(self) -> None:
        seconds = min(CHECK_SECONDS, self.timeout)
        try:
            with _deadline(seconds):
                self.client.models.list(timeout=seconds)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
            raise GeneratorError(
                f"{redact_url(self.base_url)} refused the API key (HTTP {error.status_code}). Set OPENAI_API_KEY or pass api_key."
            ) from None
        except openai.APITimeoutError:  # a server that hangs or trickles is no more usable than one that is down
            raise GeneratorError(
                f"the server at {redact_url(self.base_url)} did not send its model list within {seconds:g} s "
                f"(the start-up check; a live server answers it at once). Check the server, or fix the URL in "
                "--generator openai:MODEL@http://host:port/v1."
            ) from None
        except AnswerRefused as error:
            raise GeneratorError(f"the server at {redact_url(self.base_url)} sent an unusable model list: {error}") from None
        except openai.APIConnectionError as error:
            redirected = _redirected_to(error, self.base_url)
            if redirected:
                raise GeneratorError(
                    f"the server at {redact_url(self.base_url)} redirected its model list to {redirected}, where no server "
                    f"answers ({_describe(error)}). Fix the server's redirect, or give the URL it means in "
                    "--generator openai:MODEL@URL."
                ) from None
            raise GeneratorError(
                f"no OpenAI-compatible server answers at {redact_url(self.base_url)} ({_describe(error)}). Start the server, "
                "or fix the URL in --generator openai:MODEL@http://host:port/v1."
            ) from None
        except (openai.OpenAIError, *MALFORMED):
            pass  # some servers have no (or an odd) /models route; the chat route may still work

    def _complete_one(self, call: Call) -> Completion | Exception:
        remaining = self.remaining()
        if remaining is None:  # called outside propose: one call's worth
            remaining = self.timeout
        if remaining <= 0:
            return TimeoutError(f"timed out: the step's time budget of {self.timeout:g} s was spent")
        try:
            with _deadline(remaining):
                response = self.client.chat.completions.create(model=self.model, **self._chat_arguments(call), timeout=remaining)
            if isinstance(response, str):  # the client hands back, as text, a body that is not JSON
                return GeneratorError("the server's answer is not JSON (an OpenAI-compatible chat answer is a JSON object)")
            if not getattr(response, "choices", None):
                return GeneratorError("the server answered without any choice (its `choices` empty or missing)")
            content = response.choices[0].message.content
            if content is not None and not isinstance(content, str):
                return GeneratorError(f"the answer's content is a JSON {type(content).__name__}, not text")
            usage = response.usage
            return Completion(
                text=content or "",
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            )
        except openai.APITimeoutError:
            return TimeoutError(f"timed out: the call did not finish within the step's {self.timeout:g} s (the --timeout)")
        except (AnswerRefused, RedirectRefused) as error:
            return error
        except openai.OpenAIError as error:
            return GeneratorError(_describe(error))
        except MALFORMED as error:
            return GeneratorError(f"unreadable answer ({type(error).__name__}: {error})")

    def _complete(self, calls: list[Call]) -> list[Completion | Exception]:
        # Daemon threads, not a ThreadPoolExecutor: on Ctrl-C the executor's shutdown, and Python's exit after it, wait
        # for every call in flight, so a hung server held the interrupted command for the step's whole --timeout.
        results: list[Completion | Exception | None] = [None] * len(calls)
        pending: queue.SimpleQueue[tuple[int, Call]] = queue.SimpleQueue()
        for item in enumerate(calls):
            pending.put(item)

        def work() -> None:
            while True:
                try:
                    index, call = pending.get_nowait()
                except queue.Empty:
                    return
                results[index] = self._complete_one(call)

        threads = [threading.Thread(target=work, daemon=True) for _ in range(max(1, min(self.concurrency, len(calls))))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()  # Ctrl-C interrupts the wait; the threads end with the process
        return [result if result is not None else GeneratorError("the call ended without an answer") for result in results]


def _describe(error: openai.OpenAIError) -> str:
    """A short, credential-free account of a client error: HTTP status and message, or the connection problem."""
    status = getattr(error, "status_code", None)
    message = redact(" ".join(str(getattr(error, "message", "") or error).split()))[:200]
    if status is not None:
        return f"HTTP {status}: {message}"
    cause = error.__cause__
    return f"{message} ({type(cause).__name__}: {redact(str(cause))})" if cause is not None and str(cause) not in message else message


class AnswerRefused(GeneratorError):
    """A server's answer refused unread (or read no further) because it is, or could become, larger than RESPONSE_CAP."""


class RedirectRefused(GeneratorError):
    """A chat call the server answered with a redirect, which unembed does not follow."""


@dataclass
class _CallLimits:
    deadline: float  # time.monotonic() by which the call must end
    received: int = 0  # bytes read from the server during the call


# The limits of the call the current thread is making (each call runs in its own thread); None: no call, no limits.
_CALL: contextvars.ContextVar[_CallLimits | None] = contextvars.ContextVar("unembed_openai_call", default=None)


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    token = _CALL.set(_CallLimits(time.monotonic() + seconds))
    try:
        yield
    finally:
        _CALL.reset(token)


def _time_left(timeout: float | None, expired: type[httpx.TimeoutException]) -> float | None:
    """httpx's limit for one socket operation, cut to what is left of the current call; `expired` once nothing is
    (httpx's own timeout, which its pool passes on as it is and openai reports as APITimeoutError)."""
    call = _CALL.get()
    if call is None:
        return timeout
    left = call.deadline - time.monotonic()
    if left <= 0:
        raise expired("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


class _GuardedStream:
    """A connection (httpcore's NetworkStream interface) whose every wait ends by the current call's deadline and whose
    reads count against its byte cap."""

    def __init__(self, stream: Any):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._stream.read(max_bytes, _time_left(timeout, httpx.ReadTimeout))
        call = _CALL.get()
        if call is not None:
            call.received += len(data)
            if call.received > RESPONSE_CAP:  # the pool closes the connection as the error passes
                raise AnswerRefused(f"the server sent more than {RESPONSE_CAP / 2**20:g} MiB in one answer (the cap); unembed read no more")
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpx.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> _GuardedStream:
        return _GuardedStream(self._stream.start_tls(ssl_context, server_hostname, _time_left(timeout, httpx.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _GuardedBackend:
    """Opens `_GuardedStream`s (httpcore's NetworkBackend interface): below httpx's pool, the one place every byte and
    every wait of a call passes."""

    def __init__(self, backend: Any):
        self._backend = backend

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None, socket_options: Any = None):
        timeout = _time_left(timeout, httpx.ConnectTimeout)
        return _GuardedStream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None):
        return _GuardedStream(self._backend.connect_unix_socket(path, _time_left(timeout, httpx.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _redirected_to(error: openai.APIConnectionError, base_url: str) -> str | None:
    """Where a redirect the client followed led, redacted, when the failed request went elsewhere than `base_url`;
    None when it failed at the server itself. (openai's error holds the first request; httpx's, its cause, the last.)"""
    try:
        url = error.__cause__.request.url  # type: ignore[union-attr]
    except (AttributeError, RuntimeError):  # no cause, or an httpx error raised before it had a request
        return None
    asked = httpx.URL(base_url)
    if (url.scheme, url.host, url.port) == (asked.scheme, asked.host, asked.port):
        return None
    return redact(redact_url(str(url)))[:200]


def _refuse_from_headers(response: httpx.Response) -> None:
    """Refuse an answer before its body is read: one whose Content-Length is past the cap, a compressed one (the cap
    counts bytes on the wire, and a few MB of gzip can unpack to GBs; unembed asks for none), or a redirect of the
    chat call (a POST): httpx would follow a 301 or 302 with a GET, and read whatever that returns as the answer.
    The start-up model list (a GET) still follows redirects, without the key to another host."""
    if response.is_redirect and response.request.method != "GET":
        location = response.headers.get("Location", "").strip()
        try:
            where = redact(redact_url(str(response.request.url.join(location))))[:200] if location else "no Location"
        except Exception:  # a Location httpx cannot read (it would have failed to follow it too)
            where = repr(redact(location)[:200])
        raise RedirectRefused(
            f"the server answered the chat call with a redirect (HTTP {response.status_code} to {where}), which unembed does "
            "not follow. Give the URL the server redirects to in --generator openai:MODEL@URL."
        )
    length = response.headers.get("Content-Length", "").strip()
    if length.isdigit() and int(length) > RESPONSE_CAP:
        raise AnswerRefused(
            f"the server announced an answer of {int(length):,} bytes (Content-Length), more than the {RESPONSE_CAP / 2**20:g} MiB cap"
        )
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise AnswerRefused(f"the server sent a compressed ({redact(encoding)[:40]}) answer though unembed asks for none")


def _guarded_http_client(base_url: str) -> httpx.Client:
    """openai's default HTTP client on a transport whose sockets are guarded (_GuardedBackend)."""
    parts = urllib.parse.urlsplit(base_url)
    # Given a transport, httpx no longer takes a proxy from the environment: take it here as httpx would have.
    proxies = urllib.request.getproxies()
    proxy = None if urllib.request.proxy_bypass(parts.hostname or "") else proxies.get(parts.scheme) or proxies.get("all")
    transport = httpx.HTTPTransport(proxy=proxy)
    # httpx has no option for its pool's network backend; an AttributeError here, not a silent loss of the deadline.
    transport._pool._network_backend = _GuardedBackend(transport._pool._network_backend)  # type: ignore[assignment]
    return openai.DefaultHttpxClient(
        transport=transport, headers={"Accept-Encoding": "identity"}, event_hooks={"response": [_refuse_from_headers]}
    )


def load_openai(argument: str, **options) -> OpenAIGenerator:
    model, _, base_url = argument.partition("@")
    # `openai:MODEL,api_key=KEY@URL` reads the URL into the key's value: the call would go to the default endpoint,
    # with that value as its key.
    misplaced = [key for key, value in options.items() if isinstance(value, str) and re.search(r"@https?://", value)]
    if misplaced:
        raise GeneratorError(
            f"the openai spec's option {misplaced[0]} holds a URL (@http...): the URL comes right after the model, before "
            "any option: openai:MODEL@http://host:port/v1,KEY=VALUE."
        )
    if not model:
        raise GeneratorError("the openai generator needs a model: openai:MODEL@http://host:port/v1 (or set OPENAI_BASE_URL).")
    return OpenAIGenerator(model, base_url or None, **options)
