"""The web app: three pages (invert, arithmetic, explain) and the API they call, wired on FastAPI.

FastAPI and a small hand-written page rather than Gradio: the page must work offline (Gradio's default theme
fetches its fonts from a CDN and its client checks for updates), its events are our own (each step's candidates,
as they happen), and the limits, queue and cancelling are the server's to enforce, not a framework's defaults.

A POST to /api/invert, /api/arith or /api/explain stores the uploads, queues a job and answers with a stream of
JSON lines: its place in line, then each step, then the result or an error. The stream is the only place a job's
events go. When the page goes away the stream breaks, and the job is withdrawn from the line or stopped at its
next step. Every page is served with a Content-Security-Policy that lets it load nothing but this server's files.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path

import fastapi
from fastapi import Request, responses

from ..errors import InputError, UnembedError
from .jobs import Job, JobQueue
from .models import Models, ServeSettings, is_local
from .uploads import describe_size, store
from .work import ArithForm, ExplainForm, InvertForm, TermField, Upload, run_arith, run_explain, run_invert

log = logging.getLogger(__name__)

PAGES = {"/": ("invert", "Invert"), "/arith": ("arith", "Arithmetic"), "/explain": ("explain", "Explain")}  # path: page, link
FINAL = ("result", "error", "cancelled")
MAX_TERMS = 8
MAX_FILES = 16
HEARTBEAT = 1.0  # seconds between keep-alive lines: a closed page is noticed at the next one
SECURITY_HEADERS = {
    # Nothing from elsewhere: no CDN, no fonts, no analytics. Pictures arrive as data: URLs; downloads as blob: URLs.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: ServeSettings, models: Models | None = None, *, local_only: bool = True):
    """The ASGI app for `settings` (uvicorn runs it; `unembed.serve.serve` starts both). local_only: it listens on a
    loopback address, so requests must name a loopback host: a web page elsewhere cannot reach it through a DNS name
    that points here (DNS rebinding)."""
    models = models or Models(settings)
    queue = JobQueue(workers=settings.workers, waiting=settings.waiting, deadline=settings.timeout)
    static = resources.files("unembed.serve") / "static"

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        queue.close()

    app = fastapi.FastAPI(title="unembed", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.queue, app.state.models = queue, models

    @app.exception_handler(fastapi.HTTPException)
    async def message(request, error: fastapi.HTTPException):
        # The page reads {"message": ...} from any refusal, Starlette's own ("Too many files") included.
        return responses.JSONResponse({"message": str(error.detail)}, status_code=error.status_code)

    @app.middleware("http")
    async def guard(request, call_next):
        refusal = _refused(request, local_only)
        if refusal is not None:
            return responses.JSONResponse({"message": refusal}, status_code=403)
        if request.method == "POST":
            length = request.headers.get("content-length")
            most = settings.limits.upload_bytes + 256 * 1024  # the files, and the form around them
            if length is None or not length.isdigit():
                return responses.JSONResponse({"message": "the request must say its length (Content-Length)."}, status_code=411)
            if int(length) > most:
                return responses.JSONResponse(
                    {
                        "message": f"the files sent together are larger than this server's upload limit of "
                        f"{describe_size(settings.limits.upload_bytes)}. Send smaller files."
                    },
                    status_code=413,
                )
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    def page(html: str):
        async def show():
            return responses.HTMLResponse(html)

        return show

    for path, (name, _) in PAGES.items():
        app.get(path, include_in_schema=False)(page(_page(static, name)))

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return responses.Response(status_code=204)  # no icon; asked for by every browser

    @app.get("/static/{name}", include_in_schema=False)
    async def asset(name: str):
        types = {".js": "text/javascript", ".css": "text/css"}
        file = static / name
        if Path(name).name != name or Path(name).suffix not in types or not file.is_file():
            raise fastapi.HTTPException(404)
        return responses.Response(file.read_text(encoding="utf-8"), media_type=types[Path(name).suffix])

    @app.get("/api/options")
    async def options():
        space = settings.spaces[0]
        return {
            "spaces": list(settings.spaces),
            "banks": list(settings.banks),
            "generators": list(settings.generators),
            "default_space": space,
            "max_steps": settings.max_steps,
            "upload_mb": settings.limits.upload_bytes / 1024 / 1024,
            "timeout": settings.timeout,
        }

    async def start(request: Request, parse: Callable[[dict[str, str], dict[str, list[Upload]]], object], run):
        """Store the uploads, parse the form, queue the job; its events as the response. Bad input: one error event."""
        if queue.full:  # said before the body is read and stored
            return _stream_events([{"type": "error", "message": str(queue.busy())}])
        folder = Path(tempfile.mkdtemp(prefix="unembed-serve-"))
        try:
            form = await request.form(max_files=MAX_FILES, max_fields=64)
            try:
                stored = await _store_uploads(form, folder, settings)
            finally:
                await form.close()
            fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
            parsed = parse(fields, stored)
            cleanup = functools.partial(_remove, folder)
            job = queue.submit(functools.partial(_scrubbed, run, folder, parsed, models), asyncio.get_running_loop(), cleanup=cleanup)
        except (UnembedError, ValueError) as error:
            _remove(folder)
            message = str(error) if isinstance(error, UnembedError) else f"the form could not be read ({error})."
            return _stream_events([{"type": "error", "message": message}])
        except BaseException:
            _remove(folder)
            raise
        return _JobResponse(job, queue)

    @app.post("/api/invert")
    async def api_invert(request: Request):
        return await start(request, _invert_form, run_invert)

    @app.post("/api/arith")
    async def api_arith(request: Request):
        return await start(request, _arith_form, run_arith)

    @app.post("/api/explain")
    async def api_explain(request: Request):
        return await start(request, _explain_form, run_explain)

    return app


def _page(static, name: str) -> str:
    """A page: its own `static/NAME.html` (with the parts it includes: `<!-- include PART.html -->`) inside the layout
    all pages share (head, the links between pages)."""
    body = re.sub(
        r"<!-- include ([\w-]+\.html) -->\n",
        lambda match: (static / match[1]).read_text(encoding="utf-8"),
        (static / f"{name}.html").read_text(encoding="utf-8"),
    )
    current = ' aria-current="page"'
    links = " ".join(f'<a href="{path}"{current if page == name else ""}>{text}</a>' for path, (page, text) in PAGES.items())
    layout = (static / "layout.html").read_text(encoding="utf-8")
    return (
        layout.replace("<!-- title -->", name)
        .replace("<!-- page -->", name)
        .replace("<!-- nav -->", links)
        .replace("<!-- main -->\n", body)
    )


async def _store_uploads(form, folder: Path, settings: ServeSettings) -> dict[str, list[Upload]]:
    """Every non-empty file field of the form, copied into `folder` and size-checked: field name -> uploads."""
    stored: dict[str, list[Upload]] = {}
    for index, (key, value) in enumerate(form.multi_items()):
        if isinstance(value, str) or not value.filename:
            continue  # a file input left empty sends a nameless part
        path = await asyncio.to_thread(store, value.filename, value.file, folder, index, settings.limits)
        stored.setdefault(key, []).append(Upload(value.filename, path))
    return stored


class _JobResponse(responses.StreamingResponse):
    """The job's events as JSON lines, with keep-alive lines between. However the response ends (the page went away
    before or while it streamed, the server stops), a job that has not ended is withdrawn."""

    def __init__(self, job: Job, queue: JobQueue):
        super().__init__(_follow(job), media_type="application/x-ndjson")
        self.job, self.queue = job, queue

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self.job.done:
                self.queue.withdraw(self.job)


async def _follow(job: Job) -> AsyncIterator[bytes]:
    while True:
        try:
            event = await asyncio.wait_for(job.events.get(), timeout=HEARTBEAT)
        except TimeoutError:
            yield b"\n"  # a page that went away is noticed when this fails
            continue
        yield _line(event)
        if event["type"] in FINAL:
            return


def _refused(request, local_only: bool) -> str | None:
    """Why a request is refused: a foreign Host on a loopback server (DNS rebinding), or a POST from another site."""
    if local_only and not is_local(_hostname(request.headers.get("host", ""))):
        return "this server answers requests for this machine only (Host must be 127.0.0.1, localhost or ::1)."
    origin = request.headers.get("origin")
    if request.method == "POST" and origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
        return "a page from another site may not send jobs to this server."
    return None


def _hostname(host: str) -> str:
    """`127.0.0.1:7860` -> `127.0.0.1`, `[::1]:7860` -> `::1`."""
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _stream_events(events: list[dict]):
    async def lines() -> AsyncIterator[bytes]:
        for event in events:
            yield _line(event)

    return responses.StreamingResponse(lines(), media_type="application/x-ndjson")


def _line(event: dict) -> bytes:
    return (json.dumps(event, ensure_ascii=False, default=_plain) + "\n").encode("utf-8")


def _plain(value):
    """numpy numbers as JSON numbers; a NaN or an infinity (never a score) as null."""
    number = float(value)
    return number if math.isfinite(number) else None


def _scrubbed(run, folder: Path, form, models: Models, job: Job) -> dict:
    """`run(form, models, job)`, its errors naming the visitor's files without the server's folder they were stored in."""
    try:
        return run(form, models, job)
    except Exception as error:
        error.args = tuple(re.sub(re.escape(str(folder)) + r"/\d+/", "", arg) if isinstance(arg, str) else arg for arg in error.args)
        raise


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


# Forms: the page's fields by name. Numbers are checked here, choices by Models, inputs by the job.


def _int(fields: dict, key: str, default: int | None) -> int | None:
    value = str(fields.get(key, "")).strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise InputError(f"{key} must be a whole number; got {value!r}.") from None


def _float(fields: dict, key: str, default: float) -> float:
    value = str(fields.get(key, "")).strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{key} must be a number; got {value!r}.") from None
    if not math.isfinite(number):
        raise InputError(f"{key} must be a finite number; got {value!r}.")
    return number


def _lines(fields: dict, key: str) -> list[str]:
    return [line.strip() for line in str(fields.get(key, "")).splitlines() if line.strip()]


def _choices(fields: dict) -> dict:
    return dict(
        space=str(fields.get("space", "")),
        generator=str(fields.get("generator", "")),
        seed=_int(fields, "seed", 0) or 0,
    )


def _one(uploads: dict[str, list[Upload]], key: str) -> Upload | None:
    return uploads[key][0] if uploads.get(key) else None


def _invert_form(fields: dict, uploads: dict[str, list[Upload]]) -> InvertForm:
    return InvertForm(
        **_choices(fields),
        bank=str(fields.get("bank", "")),
        steps=_int(fields, "steps", None),
        text=str(fields.get("text", "")),
        upload=_one(uploads, "file"),
    )


def _arith_form(fields: dict, uploads: dict[str, list[Upload]]) -> ArithForm:
    terms = []
    for index in range(MAX_TERMS + 1):
        if f"term-{index}-weight" not in fields:
            break
        if index == MAX_TERMS:
            raise InputError(f"a combination takes at most {MAX_TERMS} terms on this page.")
        weight = _float(fields, f"term-{index}-weight", 1.0)
        terms.append(TermField(weight, str(fields.get(f"term-{index}-text", "")), _one(uploads, f"term-{index}-file")))
    return ArithForm(**_choices(fields), terms=terms)


def _explain_form(fields: dict, uploads: dict[str, list[Upload]]) -> ExplainForm:
    return ExplainForm(
        **_choices(fields),
        bank=str(fields.get("bank", "")),
        steps=_int(fields, "steps", None),
        positive=uploads.get("positive", []),
        positive_texts=_lines(fields, "positive-texts"),
        negative=uploads.get("negative", []),
        negative_texts=_lines(fields, "negative-texts"),
        direction=_one(uploads, "direction"),
    )
