"""Command-line option groups shared by the CLI (unembed.cli) and the benchmarks (unembed.bench), defined
once, and how every inverting command reports a generator that failed."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .. import checks
from ..errors import InputError
from ..inverter import InversionConfig, InversionResult
from ..runner.engines import START_SECONDS
from .terminal import warn

GENERATOR_HELP = "the inverter's generator (default: the space's; decoder+edit where unembed ships a decoder for it, else edit)"

# Exit code of a command whose generator failed in some step with no fallback to make up for it:
# the command ran to the end, but its answer holds less than was asked (the caption bank's best, at worst).
GENERATOR_FAILED = 3


def seed(text: str) -> int:
    """The type of every command's --seed: a whole number in 0..2**32-1, or argparse's usage error (exit 2)."""
    try:
        return checks.seed(int(text))
    except (ValueError, InputError) as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: give a whole number from 0 to {checks.SEED_LIMIT - 1}.") from error


def add_generation_options(parser: argparse.ArgumentParser) -> None:
    """The MILS loop's options (`unembed invert`, `unembed bench invert`); `inversion_options(args)` reads them."""
    parser.add_argument(
        "--generator",
        default=None,
        help="decoder+edit (the default where unembed ships a decoder for the space: minilm), decoder (a "
        "trained decoder's sentences alone; decoder:DIR for one you trained with unembed train-decoder), edit (the "
        "default elsewhere: edits the best texts with the bank's words, scored as it writes; offline, no LLM), "
        "edit:lexicon (also trades words for the target's nearest of the same part of speech where SmolLM2 reads "
        "them as fluent), llama.cpp (SmolLM2), llama.cpp:/path/model.gguf, transformers:ID_OR_PATH, "
        "openai:MODEL@http://host:port/v1, mutate; A+B pools several, e.g. llama.cpp+mutate; ,KEY=VALUE sets an "
        "option, e.g. edit:lexicon,beam=5,judge=/path/model.gguf",
    )
    parser.add_argument("--fallback", default=None, help="generator for steps the main one fails, e.g. mutate")
    parser.add_argument("--steps", type=int, default=None, help="optimisation steps (MILS: image 10, audio 19)")
    parser.add_argument("--requested", type=int, default=None, help="new texts asked per step (MILS: 50)")
    parser.add_argument("--keep", type=int, default=None, help="candidates kept between steps (MILS: image 50, audio 10)")
    parser.add_argument("--shown", type=int, default=None, help="candidates listed in the prompt (default: the generator's choice)")
    parser.add_argument("--patience", type=int, default=3, help="stop after this many steps without improvement (0: never)")
    parser.add_argument(
        "--fluency-margin",
        type=float,
        default=0.0,
        help="drop new texts less fluent (SmolLM2 log-likelihood per token) than the bank's best "
        "minus this (default 0); the gate is on whenever mutate proposes",
    )
    fluency = parser.add_mutually_exclusive_group()  # both given is a contradiction, not "the last one wins"
    fluency.add_argument("--fluency", dest="fluency", action="store_true", default=None, help="gate on fluency even without mutate")
    fluency.add_argument("--no-fluency", dest="fluency", action="store_false", help="no fluency gate (pure MILS: the cosine alone decides)")
    parser.add_argument(
        "--min-gain",
        type=float,
        default=InversionConfig.min_gain,
        help="the answer stays the bank's best text unless the loop's best beats it by at least this "
        f"(default {InversionConfig.min_gain:g}: smaller gains are ties the space cannot resolve)",
    )
    parser.add_argument("--seed", type=seed, default=0)
    add_timeout_option(parser)


def add_timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="longest one step may wait on the generator, retries included (default: the generator's "
        "own, 120 s for openai; a hung server then costs this much per step)",
    )


def inversion_options(args: argparse.Namespace) -> dict:
    """`invert_many` keyword arguments from the options of `add_generation_options`.

    --patience is checked here, where 0 (never stop early) becomes the loop's None: the loop's own check would ask for
    "at least 1" of a setting whose 0 is valid."""
    if isinstance(args.patience, int) and not 0 <= args.patience <= checks.COUNT_LIMIT:
        raise InputError(
            f"--patience must be 0 or more (0: never stop early; N: stop after N steps without improvement), "
            f"at most {checks.COUNT_LIMIT:,}; got {args.patience}."
        )
    return dict(
        generator=args.generator,
        fallback=args.fallback,
        fluency=args.fluency,
        steps=args.steps,
        requested=args.requested,
        keep=args.keep,
        shown=args.shown,
        patience=args.patience or None,
        seed=args.seed,
        fluency_margin=args.fluency_margin,
        min_gain=args.min_gain,
        timeout=args.timeout,
    )


def report_generator(results: Sequence[InversionResult]) -> int:
    """Say on stderr where the generator failed; GENERATOR_FAILED when a step got no text at all, else 0.

    A step saved by the fallback (or by another of pooled generators) is said, and is not a failure.
    """
    steps = [record for result in results for record in result.history[1:]]
    failed = [record for result in results for record in result.failed_steps]
    rescued = [record for result in results for record in result.fallback_steps]
    partial = [record for result in results for record in result.troubled_steps if not record.fallback and not record.failed]
    if not steps:
        return 0
    config = results[0].config
    assert config is not None  # the loop records its settings
    if failed:
        what = (
            "every step failed, so the text printed is the caption bank's best, not an inversion"
            if len(failed) == len(steps)
            else "the text printed comes from the steps that worked"
        )
        warn(
            f"unembed: error: the generator {config.generator} failed in {len(failed)} of {len(steps)} step(s) "
            f"({failed[-1].error}): {what}. Check the generator (is its server up? --timeout long enough?), "
            "or pass --fallback mutate."
        )
        return GENERATOR_FAILED
    if rescued:
        warn(
            f"unembed: the generator {config.generator} failed in {len(rescued)} of {len(steps)} step(s) "
            f"({rescued[-1].error}); the fallback {config.fallback} proposed the texts of those steps."
        )
    if partial:
        warn(
            f"unembed: warning: part of the generator {config.generator} failed in {len(partial)} of {len(steps)} "
            f"step(s) ({partial[-1].error}); the texts of the rest were used."
        )
    return 0


def add_ray_options(parser: argparse.ArgumentParser, what: str, workers_help: str) -> None:
    """--ray [ADDRESS], --workers, --cpus-per-worker, --gpus-per-worker, --ray-start-timeout (`unembed run`,
    `unembed bank build`); `ray_options(args)` reads them."""
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help=f"{what}: a local Ray started here (no ADDRESS) or the cluster at ADDRESS (e.g. auto, ray://host:10001)",
    )
    # Default None: given without --ray, they would be ignored, so ray_options refuses them (their defaults: RAY_DEFAULTS).
    parser.add_argument("--workers", type=int, default=None, help=f"{workers_help} (default 1)")
    parser.add_argument("--cpus-per-worker", type=float, default=None, help="CPUs each Ray worker asks for; its torch threads (default 1)")
    parser.add_argument("--gpus-per-worker", type=float, default=None, help="GPUs each Ray worker asks for (default 0)")
    parser.add_argument(
        "--ray-start-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"how long the Ray workers may wait to be placed on a node before the command stops (default {START_SECONDS:g})",
    )


# The Ray-only options of add_ray_options and their defaults under --ray.
RAY_DEFAULTS = {"workers": 1, "cpus_per_worker": 1, "gpus_per_worker": 0, "ray_start_timeout": START_SECONDS}


def ray_options(args: argparse.Namespace) -> dict:
    """The settings of add_ray_options; options that only Ray reads, given without --ray, are an InputError (they would
    be ignored: `--workers 5` without --ray runs in this process, one target batch at a time)."""
    given = {name: getattr(args, name) for name in RAY_DEFAULTS if getattr(args, name) is not None}
    if args.ray is not None and not args.ray.strip():  # `--ray $ADDRESS` with the variable unset or empty
        raise InputError(
            "--ray was given an empty address, so it would start a local Ray instead of joining a cluster. Give the "
            "cluster's address (--ray HOST:PORT, --ray auto), or --ray alone for a local Ray."
        )
    if args.ray is None and given:
        options = ", ".join(f"--{name.replace('_', '-')} {value:g}" for name, value in given.items())
        raise InputError(
            f"{options} {'needs' if len(given) == 1 else 'need'} --ray: without it the command runs in this process and "
            f"would ignore {'it' if len(given) == 1 else 'them'}. Add --ray (a local Ray) or --ray ADDRESS (a cluster), or "
            f"leave {'it' if len(given) == 1 else 'them'} out."
        )
    # Their values are checked by run_job and ray_encoder (runner.engines.ray_settings), before any model loads.
    return {
        "ray": args.ray is not None,
        "address": None if args.ray in (None, "local") else args.ray,
        **{name: given.get(name, default) for name, default in RAY_DEFAULTS.items()},
    }


def refuse_blank_text(text: str | None, purpose: str) -> None:
    """A --text with no words (`invert`, `bank search`) is refused before any model loads."""
    if text is not None and not text.strip():
        raise InputError(f"--text is blank: it has no words to embed. Give the text to {purpose}, e.g. --text 'a dog on a beach'.")
