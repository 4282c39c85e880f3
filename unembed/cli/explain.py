"""`unembed explain`: say in words what separates two groups of inputs, what one group shares, what a probe or
each feature of a sparse autoencoder reads."""

from __future__ import annotations

from ..errors import InputError
from ..explain import (
    bank_baseline,
    check_report_path,
    explain,
    group_objective,
    probe_objectives,
    read_items,
    sae_objectives,
    table,
    write_report,
)
from ..index import resolve_bank
from ..objectives import ACTIVATIONS
from ..spaces import load_space
from .options import add_generation_options, inversion_options, report_generator


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="what a direction, a cluster, a probe or SAE features mean (MILS loop on an objective)",
        description="Explain, in words, what separates --positive from --negative items (a direction), what --positive "
        "items share (a cluster), a linear probe (--probe) or features of a sparse autoencoder (--sae). "
        "An ITEM is an image or audio file, a .npy vector, or a text. One explanation ends with its best text on "
        "the last line; several with a table, one row each (name, scores, lift, text).",
    )
    parser.add_argument("--space", default="minilm", help="embedding space spec (default: minilm)")
    parser.add_argument("--positive", nargs="+", default=[], metavar="ITEM", help="the group a direction points to (alone: a cluster)")
    parser.add_argument("--negative", nargs="+", default=[], metavar="ITEM", help="the group a direction points away from")
    parser.add_argument("--probe", metavar="FILE.safetensors", help="a linear probe: weight (classes, dim), bias (classes,)")
    parser.add_argument("--sae", metavar="FILE.safetensors", help="a sparse autoencoder: W_enc, b_enc (b_dec, threshold)")
    parser.add_argument("--features", help="with --sae: which features, e.g. 1,5,9 or 0-15 (default: every live one)")
    parser.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        default=None,
        help="with --sae: the encoder's activation (default: jumprelu when the file holds a threshold, else relu)",
    )
    parser.add_argument("--k", type=int, default=None, help="with --sae --activation topk: features kept")
    parser.add_argument(
        "--uncentred",
        action="store_true",
        help="score a direction by plain projection (default: centred on the bank's texts, so generic texts do not win)",
    )
    parser.add_argument("--bank", default=None, help="bank folder, caption file or named source (default: the space's for --modality)")
    parser.add_argument(
        "--modality",
        choices=["image", "audio", "text"],
        default="image",
        help="which bank (when none is given), prompt and MILS defaults (default: image)",
    )
    parser.add_argument("--top", type=int, default=5, help="texts listed per explanation (default 5)")
    add_generation_options(parser)
    parser.add_argument("--json", help="write the report here: JSON, or Parquet (one row per explanation) for a .parquet name")
    parser.set_defaults(run=run, reads=("positive", "negative", "probe", "sae", "bank"), writes=("json",))


def run(args) -> int:
    given_kinds = (("--positive/--negative", args.positive or args.negative), ("--probe", args.probe), ("--sae", args.sae))
    kinds = [name for name, given in given_kinds if given]
    if len(kinds) != 1:
        raise InputError(f"give exactly one of --positive/--negative, --probe, --sae; got {', '.join(kinds) or 'none'}.")
    if args.features and not args.sae:
        raise InputError("--features picks features of --sae. Give --sae FILE.safetensors too.")
    if args.activation and not args.sae:
        raise InputError("--activation is the activation of --sae's encoder. Give --sae FILE.safetensors too, or leave it out.")
    if args.k is not None and not (args.sae and args.activation == "topk"):
        raise InputError(
            "--k is the number of features a TopK SAE keeps: it applies only with --sae FILE --activation topk, and is "
            "ignored otherwise. Add those, or leave --k out."
        )
    if args.json:
        check_report_path(args.json, "--json")
    options = inversion_options(args)  # checked before the space loads
    sae = sae_objectives(args.sae, features=args.features or None, activation=args.activation, k=args.k) if args.sae else None
    space = load_space(args.space)
    bank = resolve_bank(args.bank, space, args.modality)
    if sae is not None:
        names, objectives = sae
    elif args.probe:
        names, objectives = probe_objectives(args.probe)
    else:
        positive, negative = read_items(args.positive, space), read_items(args.negative, space)
        baseline = None if args.uncentred or not len(negative) else bank_baseline(bank, space)
        objective = group_objective(positive, negative, baseline=baseline)
        names, objectives = [objective.name], [objective]
    explanations = explain(objectives, names=names, space=space, bank=bank, modality=args.modality, top=args.top, progress=True, **options)
    if args.json:
        config = explanations[0].result.config
        assert config is not None  # the loop records its settings
        write_report(explanations, args.json, space=space.spec, config=config.to_dict())
        print(f"wrote {args.json}")
    print(table(explanations))
    if len(explanations) == 1:  # the contract of one explanation, as of `unembed invert`: the best text last
        (only,) = explanations
        print(f"(caption bank's best: {only.bank_score:.3f}  {only.bank_text})")
        print(f"{only.score:.3f}  {only.text}")
    return report_generator([each.result for each in explanations])
