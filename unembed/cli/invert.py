"""`unembed invert`: say in words what an embedding (or an image/audio/text embedded on the fly) means."""

from __future__ import annotations

from ..errors import InputError
from ..inverter import invert
from ..spaces import input_of, load_space
from ..vectors import load_vectors
from .options import add_generation_options, inversion_options, report_generator


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "invert",
        help="turn an embedding back into text (MILS loop)",
        description="Invert an embedding: bootstrap from a caption bank, then let an LLM propose better texts.",
    )
    parser.add_argument("input", nargs="?", help="an image or audio file, embedded with the space's encoder")
    parser.add_argument("--vector", help="a .npy file holding the embedding (dim,)")
    parser.add_argument("--text", help="a text to embed and invert (a round trip through the space)")
    parser.add_argument("--space", default="minilm", help="embedding space spec (default: minilm)")
    parser.add_argument("--bank", default=None,
                        help="bank folder, caption file or named source (mils-image, mils-audio, minibind-image, minibind-audio; "
                             "default: the caption source the space names for the modality, e.g. MILS's for imagebind, "
                             "its world's for minibind); named sources are built once and cached (unembed.paths)")
    parser.add_argument("--modality", choices=["image", "audio", "text"], default=None,
                        help="which prompt and defaults (default: the input's; image for --vector)")
    add_generation_options(parser)
    parser.add_argument("--json", help="write the full result (history included) to this JSON file")
    parser.add_argument("--plot", help="write the score trajectory to this PNG")
    parser.set_defaults(run=run)


def run(args) -> int:
    given = [name for name in ("input", "vector", "text") if getattr(args, name)]
    if len(given) != 1:
        raise InputError("give exactly one of: an input FILE, --vector FILE.npy, --text TEXT.")
    space = load_space(args.space)
    if args.vector:
        embedding, modality = load_vectors(args.vector), "image"
    elif args.text:
        embedding, modality = space.embed_text([args.text])[0], "text"
    else:
        modality, path = input_of(args.input)
        embedding = space.embed(modality, [path])[0]
    result = invert(
        embedding, space=space, bank=args.bank, modality=args.modality or modality, progress=True, **inversion_options(args)
    )
    print(f"{result.score:.3f}  {result.text}")
    print(f"(caption bank's best: {result.bootstrap_score:.3f}  {result.bootstrap_text})")
    if args.json:
        result.to_json(args.json)
    if args.plot:
        result.plot(args.plot)
    return report_generator([result])
