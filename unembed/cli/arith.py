"""`unembed arith scene.png + rain.wav - red + blue --space minibind [--mode text] [--render out.png]`."""

from __future__ import annotations

from ..errors import InputError


def add_parser(subparsers) -> None:
    from ..arithmetic.combination import DEFAULT_REQUESTED, DEFAULT_STEPS, MODES
    from ..generators import DEFAULT_GENERATOR

    parser = subparsers.add_parser(
        "arith",
        help="combine images, sounds, texts and vectors in one space, then say (and draw) the result",
        description="Cross-modal arithmetic: TERM [+|- TERM ...]. A term is an image or audio file, a .npy vector, "
                    "or a text (quote texts with spaces); `0.5*TERM` weights it. Example: "
                    "unembed arith scene.png - red + blue --space minibind --render out.png",
    )
    parser.add_argument("terms", nargs="+", metavar="TERM", help="terms and + / - operators")
    parser.add_argument("--space", default="minibind", help="embedding space spec (default: minibind)")
    parser.add_argument("--mode", choices=MODES, default="embedding",
                        help="embedding: combine the vectors, invert the sum; text: invert each term, merge the texts "
                             "(checked against the combined vector)")
    parser.add_argument("--bank", default=None, help="embedding mode's caption bank (default: the space's image captions)")
    parser.add_argument("--generator", default=DEFAULT_GENERATOR, help=f"the inverter's generator (default {DEFAULT_GENERATOR})")
    parser.add_argument("--merge-generator", default="llama.cpp", help="text mode: the LLM that merges (default llama.cpp)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"MILS steps per inversion (default {DEFAULT_STEPS})")
    parser.add_argument("--requested", type=int, default=DEFAULT_REQUESTED, help=f"texts asked per step (default {DEFAULT_REQUESTED})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render", help="draw the result into this PNG (minibind renderer for minibind, else diffusers; "
                             "pictures under 256 px are scaled up with square pixels)")
    parser.add_argument("--renderer", default=None, help="renderer spec: minibind, diffusers:MODEL_OR_FOLDER")
    parser.add_argument("--render-steps", type=int, default=0,
                        help="first optimise the prompt for N render-and-score steps (its picture nearest the combination)")
    parser.add_argument("--json", help="write the result to this JSON file")
    parser.set_defaults(run=run)


def detach_glued_minus(tokens: list[str]) -> list[str]:
    """`scene.png -red +blue` -> `scene.png - red +blue`: argparse takes `-red` for an unknown option.

    Only the terms before the first `--option` are rewritten, so option values (`--seed -1`) are kept.
    """
    detached: list[str] = []
    for index, token in enumerate(tokens):
        if token.startswith("--"):
            return detached + tokens[index:]
        detached += ["-", token[1:]] if token.startswith("-") and len(token) > 1 and token != "-h" else [token]
    return detached


def run(args) -> int:
    from .. import atomic
    from ..arithmetic import arith, parse_expression
    from ..spaces import load_space

    if args.render_steps < 0:
        raise InputError(f"--render-steps must be 0 or more; got {args.render_steps}.")
    if args.render_steps and not args.render:
        raise InputError("--render-steps optimises the prompt of a picture: give --render out.png too.")
    terms = parse_expression(args.terms)
    space = load_space(args.space)
    result = arith(
        terms, space=space, mode=args.mode, bank=args.bank, generator=args.generator, merge_generator=args.merge_generator,
        steps=args.steps, requested=args.requested, seed=args.seed, progress=True,
    )
    print(f"{result.expression}  ({args.mode} mode, {space.spec})")
    for weight, text in result.parts:
        print(f"  {'-' if weight < 0 else '+'} {text}")
    source = f" [{result.merge.source}]" if result.merge else ""
    print(f"{result.score:.3f}  {result.text}{source}")
    data = result.to_dict()
    if args.render:
        data["render"] = render(result, space, args)
    if args.json:
        atomic.write_json(args.json, data)
    return 0


def render(result, space, args) -> dict:
    """Draw the result (or, with --render-steps, the render-and-score prompt if its picture fits better)."""
    from .. import atomic
    from ..arithmetic.render import default_renderer, for_display, render_and_score
    from ..renderers import load_renderer

    renderer = load_renderer(args.renderer or default_renderer(space))
    prompt = result.text
    info = {"renderer": renderer.name, "path": args.render}
    picture = renderer.render(prompt, seed=args.seed)
    if "image" in space.modalities:
        info["rendered_cosine"] = float(space.embed("image", [picture])[0] @ result.target)
        if args.render_steps:
            optimised = render_and_score(
                result.target, space=space, renderer=renderer, generator=args.generator, steps=args.render_steps,
                requested=args.requested, seed=args.seed, progress=True,
            )
            info["render_and_score"] = {"text": optimised.text, "rendered_cosine": optimised.score, "trajectory": optimised.trajectory()}
            if optimised.score > info["rendered_cosine"]:
                prompt, info["rendered_cosine"] = optimised.text, optimised.score
                picture = renderer.render(prompt, seed=args.seed)
        print(f"{info['rendered_cosine']:.3f}  (rendered picture vs combination)  {prompt}")
    atomic.save_png(args.render, for_display(picture))
    info["prompt"] = prompt
    print(f"wrote {args.render}")
    return info
