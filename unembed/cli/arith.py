"""`unembed arith scene.png + rain.wav - red + blue --space minibind [--mode text] [--render out.png]`."""

from __future__ import annotations

import re
import shlex

from .. import atomic, checks
from ..arithmetic import DEFAULT_REQUESTED, DEFAULT_STEPS, MODES, arith, draw, for_display, parse_expression
from ..errors import InputError
from ..renderers import load_renderer
from ..spaces import load_space
from .options import GENERATOR_HELP, add_timeout_option, report_generator, seed
from .terminal import warn


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "arith",
        help="combine images, sounds, texts and vectors in one space, then say (and draw) the result",
        description="Cross-modal arithmetic: TERM [+|- TERM ...]. A term is an image or audio file, a .npy vector, "
        "or a text (quote texts with spaces); `0.5*TERM` weights it. Example: "
        "unembed arith scene.png - red + blue --space minibind --render out.png",
    )
    parser.add_argument("terms", nargs="+", metavar="TERM", help="terms and + / - operators")
    parser.add_argument("--space", default="minibind", help="embedding space spec (default: minibind)")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="embedding",
        help="embedding: combine the vectors, invert the sum; text: invert each term, merge the texts "
        "(checked against the combined vector)",
    )
    parser.add_argument("--bank", default=None, help="embedding mode's caption bank (default: the space's image captions)")
    parser.add_argument("--generator", default=None, help=GENERATOR_HELP)
    parser.add_argument("--merge-generator", default="llama.cpp", help="text mode: the LLM that merges (default llama.cpp)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"MILS steps per inversion (default {DEFAULT_STEPS})")
    parser.add_argument("--requested", type=int, default=DEFAULT_REQUESTED, help=f"texts asked per step (default {DEFAULT_REQUESTED})")
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument(
        "--render",
        help="draw the result into this PNG (the renderer the space names: minibind for "
        "minibind, else diffusers; pictures under 256 px are scaled up with square pixels)",
    )
    parser.add_argument("--renderer", default=None, help="renderer spec: minibind, diffusers:MODEL_OR_FOLDER")
    parser.add_argument(
        "--render-steps",
        type=int,
        default=0,
        help="first optimise the prompt for N render-and-score steps (its picture nearest the combination)",
    )
    parser.add_argument("--json", help="write the result to this JSON file")
    add_timeout_option(parser)
    parser.set_defaults(run=run, reads=("terms", "bank"), writes=("json", "render"))


def detach_glued_minus(tokens: list[str]) -> list[str]:
    """`scene.png -red +blue` -> `scene.png - red +blue`: argparse takes `-red` for an unknown option.

    Only the terms before the first `--option` are rewritten, so option values (`--seed -1`) are kept. A glued minus
    after an option (`--json x.json -red`) is an InputError saying how to write the subtraction: argparse would read it
    as an unknown option and answer "the following arguments are required: TERM" or "unrecognized arguments".
    """
    detached: list[str] = []
    for index, token in enumerate(tokens):
        if token.startswith("--"):
            _refuse_glued_minus_after_options(tokens[:index], tokens[index:])
            return detached + tokens[index:]
        detached += ["-", token[1:]] if token.startswith("-") and len(token) > 1 and token != "-h" else [token]
    return detached


_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")  # argparse reads these as values, not options


def _refuse_glued_minus_after_options(before: list[str], tokens: list[str]) -> None:
    """`tokens` start at the first option, `before` are the terms before it; `--` ends the options (what follows is the
    expression, as written)."""
    terms = list(before)
    options: list[str] = []
    glued, wants_value = None, False  # wants_value: the token before was an option that takes one (all but --help)
    for index, token in enumerate(tokens):
        if token == "--":
            terms += tokens[index + 1 :]
            break
        if wants_value or token.startswith("--") or token == "-h":
            options.append(token)
            wants_value = not wants_value and token.startswith("--") and "=" not in token and token != "--help"
            continue
        if glued is None and token.startswith("-") and len(token) > 1 and " " not in token and not _NEGATIVE_NUMBER.match(token):
            glued = token
        terms.append(token)
    if glued is not None:
        raise InputError(
            f"{glued!r} after an option is read as an unknown option, not as minus {glued[1:]!r}. Write the expression "
            f"first and the options after it (`unembed arith {shlex.join(terms)} {shlex.join(options)}`), or put `--` "
            f"before the whole expression (`unembed arith {shlex.join(options)} -- {shlex.join(terms)}`)."
        )


def run(args) -> int:
    # Every option is checked before the inversion, so a mistake in one costs nothing (not an answer, then exit 2).
    render_steps = checks.count(args.render_steps, "--render-steps", minimum=0, maximum=checks.COUNT_LIMIT)
    if render_steps and not args.render:
        raise InputError("--render-steps optimises the prompt of a picture: give --render out.png too.")
    if args.renderer and not args.render:
        raise InputError("--renderer picks what draws the picture of --render: give --render out.png too, or leave --renderer out.")
    if args.render and not str(args.render).lower().endswith(".png"):
        raise InputError(f"--render writes a PNG; {args.render!r} names another kind of file. Give a path ending in .png.")
    terms = parse_expression(args.terms)
    space = load_space(args.space)
    renderer = load_renderer(args.renderer or space.renderer) if args.render else None  # a missing model is named now
    result = arith(
        terms,
        space=space,
        mode=args.mode,
        bank=args.bank,
        generator=args.generator,
        merge_generator=args.merge_generator,
        steps=args.steps,
        requested=args.requested,
        seed=args.seed,
        progress=True,
        timeout=args.timeout,
    )
    print(f"{result.expression}  ({args.mode} mode, {space.spec})")
    for weight, text in result.parts:
        print(f"  {'-' if weight < 0 else '+'} {text}")
    source = f" [{result.merge.source}]" if result.merge else ""
    print(f"{result.score:.3f}  {result.text}{source}")
    data = result.to_dict()
    if args.render:
        drawing = draw(
            result,
            space,
            renderer=renderer,
            render_steps=render_steps,
            seed=args.seed,
            generator=args.generator,
            requested=args.requested,
            progress=True,
        )
        if drawing.rendered_cosine is not None:
            print(f"{drawing.rendered_cosine:.3f}  (rendered picture vs combination)  {drawing.prompt}")
        atomic.save_png(args.render, for_display(drawing.picture))
        data["render"] = {**drawing.to_dict(), "path": args.render}
        print(f"wrote {args.render}")
    if args.json:
        atomic.write_json(args.json, data)
    if result.merge is not None and result.merge.error:
        warn(
            f"unembed: the merge generator {args.merge_generator} failed ({result.merge.error}); the rule-based joins were the candidates."
        )
    return report_generator([inversion for inversion in [result.inversion, *result.inversions] if inversion is not None])
