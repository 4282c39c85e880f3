"""`unembed serve`: a local web page for inverting, combining and explaining (unembed.serve)."""

from __future__ import annotations

from .. import checks
from ..errors import InputError
from ..serve import Limits, ServeSettings, serve


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="a local web page: drop a picture, a sound or a vector and watch the loop read it",
        description="Serve three pages (invert, arithmetic, explain) on http://HOST:PORT/. The page offers only the "
        "spaces, banks and generators given here. Binds to 127.0.0.1 unless --host says otherwise.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument(
        "--space",
        default="minibind",
        help="spaces the page offers, comma-separated; the first is its default (default: minibind)",
    )
    parser.add_argument(
        "--bank", default="", help="banks offered besides each space's own captions, comma-separated (folders, caption files, sources)"
    )
    parser.add_argument("--generator", default="", help="generators offered besides each space's default, comma-separated")
    parser.add_argument("--merge-generator", default="llama.cpp", help="arithmetic's text mode: the LLM that merges (default llama.cpp)")
    parser.add_argument("--workers", type=int, default=1, help="jobs run at once (default 1)")
    parser.add_argument("--queue", type=int, default=32, help="jobs that may wait for a worker; more are told it is busy (default 32)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="longest one job may run, not counting its wait in line (default 120)",
    )
    parser.add_argument("--max-upload-mb", type=float, default=20.0, help="largest upload, all files of one request together (default 20)")
    parser.add_argument("--max-steps", type=int, default=30, help="most loop steps a page may ask for (default 30)")
    parser.set_defaults(run=run)


def run(args) -> int:
    if not 0 < args.port < 65536:
        raise InputError(f"--port must be between 1 and 65535; got {args.port}.")
    # The checks of every command: counts at most checks.COUNT_LIMIT, seconds finite and at most checks.SECONDS_LIMIT.
    for name in ("workers", "queue", "max_steps"):
        checks.count(getattr(args, name), f"--{name.replace('_', '-')}", maximum=checks.COUNT_LIMIT)
    checks.seconds(args.timeout, "--timeout")
    if checks.number(args.max_upload_mb, "--max-upload-mb") <= 0:
        raise InputError(f"--max-upload-mb must be more than 0; got {args.max_upload_mb:g}.")
    settings = ServeSettings(
        spaces=_specs(args.space),
        banks=_specs(args.bank),
        generators=_specs(args.generator),
        merge_generator=args.merge_generator,
        workers=args.workers,
        waiting=args.queue,
        timeout=args.timeout,
        max_steps=args.max_steps,
        limits=Limits(upload_bytes=int(args.max_upload_mb * 1024 * 1024)),
    )
    serve(settings, host=args.host, port=args.port)
    return 0


def _specs(text: str) -> tuple[str, ...]:
    """Comma-separated specs. A spec's options follow commas too (`edit,beam=5`): a part holding `=` is an option of the spec before it."""
    specs: list[str] = []
    for part in (part.strip() for part in text.split(",")):
        if not part:
            continue
        if "=" in part and specs:
            specs[-1] += f",{part}"
        else:
            specs.append(part)
    return tuple(specs)
