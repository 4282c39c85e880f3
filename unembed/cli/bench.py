"""`unembed bench WHAT`: the options of each benchmark; each calls its `unembed.bench.run_<what>`, writes the
report as JSON and prints its headline figures."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from .. import atomic, bench
from ..bench import bank, decoder, invert, scale
from .options import GENERATOR_HELP, add_generation_options, inversion_options, seed


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="measure speed, memory and quality; write a JSON report")
    benches = parser.add_subparsers(dest="bench_command", required=True, metavar="WHAT")
    benches_in_order = (_add_bank, _add_space, _add_invert, _add_decoder, _add_minibind, _add_arith, _add_explain, _add_scale, _add_serve)
    for add in (*benches_in_order, _add_grammar):
        add(benches)


def _add(benches, name: str, help: str, run: Callable[[dict], dict], show: Callable[[dict], None]):
    """A sub-command whose options (all but --json) are the keyword arguments `run` passes to the bench."""
    parser = benches.add_parser(name, help=help)
    parser.add_argument("--json", required=True, help="write the report here")

    def main(args) -> int:
        command_keys = ("run", "command", "bench_command", "command_line", "resumes")  # set by the parsers, not settings
        settings = {key: value for key, value in vars(args).items() if key not in command_keys}
        load_at_start = _load()
        report = run(settings)
        report = {"measured": measured(getattr(args, "command_line", None), load_at_start), **report}
        atomic.write_json(args.json, report)
        show(report)
        print(f"wrote {args.json}")
        return 0

    parser.set_defaults(run=main)
    return parser


def measured(command_line: list[str] | None, load_at_start: list[float] | None) -> dict:
    """How a report was measured, kept in the report: the command as given, the machine, its load (1, 5 and 15-minute
    load averages when the bench started and when it ended), the git commit of the checkout (None outside one) and the
    date. docs/figures.py prints it on the Benchmarks page."""
    command_line = ["unembed", *sys.argv[1:]] if command_line is None else command_line
    return {
        "command": shlex.join(command_line),
        "machine": f"{platform.platform()}, {_cpu_name()}, {os.cpu_count()} CPUs",
        "load": {"start": load_at_start, "end": _load()},
        "commit": _git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _load() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:  # not available on this platform
        return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    """The commit checked out where this package lives; None when this file is not in a git checkout (an installed wheel)."""
    here = Path(__file__).resolve()
    try:
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", here.name], cwd=here.parent, capture_output=True, timeout=10)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here.parent, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if tracked.returncode != 0 or head.returncode != 0:
        return None
    return head.stdout.strip() or None


def _print_figures(report: dict, keys) -> None:
    for key in keys:
        if key in report:
            value = report[key]
            print(f"{key:32s} {value:.4f}" if isinstance(value, float) else f"{key:32s} {value}")


def _add_bank(benches) -> None:
    parser = _add(
        benches,
        "bank",
        "FAISS bank search: latency, recall vs exact, build time, memory",
        lambda settings: bench.run_bank(**_bench(settings)),
        lambda report: _print_figures(report, [key for key in report if key != "sweep"]),
    )
    parser.add_argument("--n", type=int, default=100_000, help="synthetic bank size (default 100000)")
    parser.add_argument("--index", default=None, metavar="SPEC", help="faiss factory string (default: recommended for --n)")
    parser.add_argument("--search-params", default=None, metavar="PARAMS", help="e.g. nprobe=64,k_factor_rf=4")
    parser.add_argument(
        "--sweep",
        nargs="+",
        default=[],
        metavar="PARAMS",
        help="also measure these search-parameter sets on the same index, e.g. nprobe=32 nprobe=64",
    )
    parser.add_argument("--queries", type=int, default=200, help="query vectors, searched one at a time")
    parser.add_argument("--space", default="minilm")
    parser.add_argument("--source", default="mils-image", help="real captions the synthetic vectors cluster around")
    parser.add_argument("--spread", type=float, default=bank.SPREAD, help="noise norm around each caption embedding")
    parser.add_argument(
        "--threads", type=int, default=1, help="FAISS OpenMP threads for the timed queries (default 1; building uses all cores)"
    )
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="folder for the synthetic vectors file and the bank (default: under the cache; n x dim x 4 bytes plus the index); "
        "a run stopped part way reuses its finished vectors file",
    )
    parser.set_defaults(resumes=True)


def _csv(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def _add_space(benches) -> None:
    def run(settings: dict) -> dict:
        return bench.run_space(**{**_bench(settings), **{key: _csv(settings[key]) for key in ("dtypes", "batch_sizes", "modalities")}})

    def show(report: dict) -> None:
        for row in report["rows"]:
            print(
                f"{row['modality']:6} {row['dtype']:9} batch {row['batch_size']:4}: {row['items_per_second']:10.2f} items/s  "
                f"x{row['ratio_to_baseline']:.2f}"
            )

    parser = _add(benches, "space", "embedding speed of a space: text candidates, images, audio clips", run, show)
    parser.add_argument("--space", default="imagebind", help="space spec (default imagebind)")
    parser.add_argument("--random-weights", action="store_true", help="random weights: no checkpoint needed")
    parser.add_argument("--size", default=None, help="architecture size for spaces that have sizes (imagebind: huge, tiny)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    parser.add_argument("--dtypes", default="float32,bfloat16", help="comma list of float32, float16, bfloat16")
    parser.add_argument("--batch-sizes", default="1,8,32", help="comma list (default 1,8,32)")
    parser.add_argument("--modalities", default=None, help="comma list (default: all of the space's)")
    parser.add_argument("--batches", type=int, default=3, help="timed batches per setting (default 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=seed, default=0)


def _bench(settings: dict) -> dict:
    """The bench's keyword arguments: every option but --json."""
    return {key: value for key, value in settings.items() if key != "json"}


def _generation(settings: dict) -> dict:
    """The bench's keyword arguments, the MILS loop's options (add_generation_options) read as `invert_many` reads them."""
    return {**_bench(settings), **inversion_options(argparse.Namespace(**settings))}


def _add_invert(benches) -> None:
    parser = _add(
        benches,
        "invert",
        "invert held-out captions; quality and cost vs MILS's procedure",
        lambda settings: bench.run_invert(**_generation(settings)),
        lambda report: _print_figures(
            report,
            [
                "n",
                "bank_top1_cosine",
                "final_cosine",
                "bank_top1_fluency",
                "fluency",
                "bleu4",
                "exact_match_rate",
                "seconds_per_target",
                "llm_calls_per_target",
                "cache_hit_rate",
                "reference_final_cosine",
                "reference_seconds_per_target",
                "speedup_vs_reference",
            ],
        ),
    )
    parser.add_argument("--space", default="minilm")
    parser.add_argument("--bank", default="mils-image", help="bank folder, caption file or named source")
    parser.add_argument(
        "--targets",
        default=None,
        help="caption file or named source of held-out targets (default: the bank's own source), "
        "or 'everyday': 50 everyday scenes and sounds that no bank holds",
    )
    parser.add_argument("--limit", type=int, default=50, help="seeded sample of this many targets")
    parser.add_argument("--modality", choices=["image", "audio", "text"], default=None)
    parser.add_argument(
        "--reference-limit",
        type=int,
        default=5,
        help="run MILS's reference procedure on this many of the targets (0: skip; it re-encodes the bank per target)",
    )
    add_generation_options(parser)
    parser.set_defaults(steps=invert.BENCH_STEPS, requested=invert.BENCH_REQUESTED, keep=invert.BENCH_KEEP, patience=2)


def _add_decoder(benches) -> None:
    def show(report: dict) -> None:
        for name in report["targets"]:
            row = report[name]
            print(
                f"{name:12} bank top-1 {row['bank_top1_cosine']:.3f}  greedy {row['greedy_cosine']:.3f}  "
                f"best of {report['samples']} {row['best_of_samples_cosine']:.3f} ({row['best_of_samples_exact_match_rate']:.0%} exact)  "
                f"fluency {row['best_of_samples_fluency']:.2f} (true {row['target_fluency']:.2f})"
            )

    def run(settings: dict) -> dict:
        return {"targets": settings["targets"], **bench.run_decoder(**_bench(settings))}

    parser = _add(benches, "decoder", "a decoder alone, one pass (greedy and best of N) on held-out targets", run, show)
    parser.add_argument("--space", default="minilm")
    parser.add_argument("--decoder", default=None, metavar="DIR", help="a decoder folder (default: the one unembed ships for the space)")
    parser.add_argument(
        "--targets",
        nargs="+",
        default=list(decoder.DEFAULT_TARGETS),
        help="named sources (their held-out split), caption files, or everyday (default: mils-image mils-audio everyday)",
    )
    parser.add_argument("--limit", type=int, default=50, help="seeded sample of this many targets per set")
    parser.add_argument("--samples", type=int, default=20, help="texts decoded per target (the first is the greedy one)")
    parser.add_argument("--seed", type=seed, default=0)


def _add_minibind(benches) -> None:
    def show(report: dict) -> None:
        for modality in ("image", "audio"):
            print(
                f"{modality}: retrieval top-1 {report[f'{modality}_retrieval_top1']:.3f} {report[f'{modality}_retrieval_per_family']}, "
                f"bank top-1 parsed {report[f'{modality}_bank_top1_parsed_accuracy']:.3f}, "
                f"inversion {report[f'{modality}_inversion_accuracy']} ({report['speed'][f'{modality}_per_second']:.0f} {modality}/s, "
                f"{report['speed'][f'{modality}_vs_text_ratio']:.2f}x text)"
            )

    parser = _add(
        benches,
        "minibind",
        "MiniBind held-out retrieval and bank-baseline accuracy",
        lambda settings: bench.run_minibind(**_bench(settings)),
        show,
    )
    parser.add_argument("--n", type=int, default=500, help="held-out samples per modality (default 500)")
    parser.add_argument("--seed", type=seed, default=12345, help="sampling seed (training used 0..1001)")
    parser.add_argument("--space", default="minibind", help="space spec, e.g. minibind:/folder/with/weights")
    parser.add_argument(
        "--distractors", type=int, default=2000, help="MILS caption lines added to each baseline bank (0: world captions only)"
    )
    parser.add_argument("--invert-n", type=int, default=100, help="samples per modality to invert with MILS (default 100; 0: skip)")
    parser.add_argument("--steps", type=int, default=1, help="MILS steps per inversion (default 1)")
    parser.add_argument("--requested", type=int, default=5, help="texts the generator proposes per target and step (default 5)")
    parser.add_argument("--generator", default=None, help=GENERATOR_HELP)
    parser.add_argument(
        "--fluency-margin",
        type=float,
        default=0.0,
        help="the loop's fluency gate keeps texts down to the bank's best fluency minus this (default 0)",
    )
    parser.add_argument(
        "--open-world", action="store_true", help="the bank holds no caption of a held-out scene: inversion must compose the answer"
    )
    parser.add_argument("--cache", default=None, help="caption-embedding cache folder (default ~/.cache/unembed/minibind)")


def _add_arith(benches) -> None:
    def show(report: dict) -> None:
        for key in ("bank_top1", "embedding_mode", "text_mode"):
            print(f"{key:15s} arith_success {report[key]['arith_success']:.2f}  analogy_accuracy {report[key]['analogy_accuracy']:.2f}")

    parser = _add(
        benches,
        "arith",
        "cross-modal arithmetic and analogies on MiniBind (both modes)",
        lambda settings: bench.run_arith(**_bench(settings)),
        show,
    )
    parser.add_argument("--n", type=int, default=50, help="cases per task (default 50)")
    parser.add_argument("--seed", type=seed, default=2024)
    parser.add_argument("--space", default="minibind")
    parser.add_argument("--generator", default=None, help=GENERATOR_HELP)
    parser.add_argument("--steps", type=int, default=3, help="MILS steps per inversion (default 3)")
    parser.add_argument("--requested", type=int, default=20, help="texts asked per step (default 20)")
    parser.add_argument("--merge-generator", default="llama.cpp", help="the LLM that merges in text mode (default llama.cpp)")
    parser.add_argument("--merges", type=int, default=5, help="LLM merges per case (default 5)")
    parser.add_argument("--render-n", type=int, default=10, help="arith cases also run through render-and-score (default 10)")
    parser.add_argument("--render-steps", type=int, default=3)


def _add_explain(benches) -> None:
    def run(settings: dict) -> dict:
        # The SAE is kept beside the report unless --sae says where.
        beside = Path(settings["json"]).with_name(Path(settings["json"]).stem + "-sae.safetensors")
        return bench.run_explain(**{**_bench(settings), "sae_path": settings["sae_path"] or beside})

    def show(report: dict) -> None:
        for kind in ("direction", "probe", "sae_feature"):
            figures = report[kind]
            print(
                f"{kind:12s} n={figures['n']:3d}  bank top-1 {figures['bank_top1_accuracy']}  loop {figures['loop_accuracy']}  "
                f"{figures['seconds_per_explanation']} s/explanation"
            )

    parser = _add(benches, "explain", "are MiniBind (or MiniLM) directions, probes and SAE features named right?", run, show)
    parser.add_argument(
        "--space",
        choices=["minibind", "minilm"],
        default="minibind",
        help="minibind: rendered pictures and sounds (default); minilm: a paraphrase of each scene's caption, as text",
    )
    parser.add_argument(
        "--n",
        type=int,
        default=400,
        help="scenes per modality (rendered, or paraphrased for minilm), half to train, half to test (default 400)",
    )
    parser.add_argument("--seed", type=seed, default=777, help="render and training seed (MiniBind's training used 0..1001 for renders)")
    parser.add_argument(
        "--bank",
        choices=["world", "mils"],
        default="world",
        help="world: MiniBind's canonical captions of the modality (default); mils: MILS's open-world captions",
    )
    parser.add_argument("--generator", default="edit", help="the loop's generator (default edit; an LLM is too slow here)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--requested", type=int, default=20)
    parser.add_argument("--keep", type=int, default=10)
    parser.add_argument("--sae-features", type=int, default=64, help="width of the SAE (default 64)")
    parser.add_argument(
        "--sae",
        dest="sae_path",
        default=None,
        help="where to save the trained SAE (safetensors; default beside --json, as NAME-sae.safetensors)",
    )


def _add_scale(benches) -> None:
    def run(settings: dict) -> dict:
        cluster = settings.pop("cluster")
        return (scale.run_scale_cluster if cluster else bench.run_scale)(**_generation(settings))

    def show(report: dict) -> None:
        if "cluster" in report:
            for name, figures in report["runs"].items():
                print(f"{name:12s} {figures['wall_seconds']:7.1f} s wall, {figures['inverted']} rows inverted")
            killed = report["runs"]["cluster"]["killed"]
            print(f"killed {report['cluster']['killed_node']} ({killed['processes']} processes) after {killed['after_shards']} shard(s)")
            _print_figures(report, ["rows", "lost_targets", "duplicate_targets", "same_texts_as_in_process"])
            return
        for name, figures in report["runs"].items():
            memory = ", ".join(f"{mb:.0f}" for mb in figures["peak_rss_mb_per_worker"])
            print(
                f"{name:16s} {figures['targets_per_minute']:8.1f} targets/min  startup {figures['startup_seconds']:5.1f} s  "
                f"peak RSS per worker {memory} MB"
            )
        for key in ("ray_2_vs_1_worker", "ray_1_worker_vs_in_process", "ray_2_workers_vs_in_process"):
            print(f"{key:28s} {report[key]:.2f}")
        print(f"same texts as in process: {report['same_texts_as_in_process']}")

    parser = _add(
        benches,
        "scale",
        "unembed run in process vs 1 and 2 Ray workers: targets per minute, memory (--cluster: on 3 nodes, one killed)",
        run,
        show,
    )
    parser.add_argument("--n", type=int, default=200, help="held-out targets (default 200)")
    parser.add_argument("--space", default="minilm")
    parser.add_argument("--bank", default="mils-image", help="bank folder, caption file or named source")
    parser.add_argument("--targets", default=None, help="caption file or named source of held-out targets (default: the bank's own source)")
    parser.add_argument("--batch-size", type=int, default=8, help="targets per batch (default 8)")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="instead: in process vs a local Ray cluster of 3 real nodes (a head, 2 nodes of 1 CPU) with one node killed "
        "mid-run; reports the rows, targets lost and written twice, same texts, wall seconds",
    )
    add_generation_options(parser)
    parser.set_defaults(
        generator="mutate", fluency=False, steps=scale.BENCH_STEPS, requested=scale.BENCH_REQUESTED, keep=scale.BENCH_KEEP, patience=2
    )


def _add_serve(benches) -> None:
    def show(report: dict) -> None:
        concurrent, load, rss = report["concurrent"], report["load"], report["rss_mb"]
        print(
            f"{report['sessions']} sessions at once: {concurrent['finished']} finished, {concurrent['own_answers']} with their own answer, "
            f"{concurrent['right_scene']} naming their scene; p50 {concurrent['p50_seconds']} s, p95 {concurrent['p95_seconds']} s"
        )
        print(
            f"{report['requests']} requests: p50 {load['p50_seconds']} s, p95 {load['p95_seconds']} s; {load['requests_per_second']} "
            f"requests/s ({load['throughput_ratio_to_in_process']}x in-process); RSS {rss['warm']} MB warm, grew "
            f"{rss['growth_after_first_fifth']} MB"
        )

    parser = _add(
        benches,
        "serve",
        "unembed serve under load: concurrent sessions, latency, memory over many requests",
        lambda s: bench.run_serve(**_bench(s)),
        show,
    )
    parser.add_argument("--sessions", type=int, default=20, help="clients at once, each with its own MiniBind picture (default 20)")
    parser.add_argument("--requests", type=int, default=200, help="requests in all for the memory run (default 200)")
    parser.add_argument("--workers", type=int, default=1, help="the server's --workers (default 1)")
    parser.add_argument("--seed", type=seed, default=0, help="draws the scenes and seeds the loop")


def _add_grammar(benches) -> None:
    def show(report: dict) -> None:
        for name, row in report["corpora"].items():
            mapped = row["mapped"]
            line = (
                f"{name:18s} {row['texts']:>9,} texts: files {row['disk_mb']:.1f} MB, written in {row['write']['seconds']:.1f} s; "
                f"mapped: opens in {mapped['seconds']:.3f} s, RSS +{mapped['rss_after_questions_mb']:.0f} MB "
                f"(own {mapped['own_rss_after_questions_mb']:.0f} MB)"
            )
            if "in_memory" in row:
                built = row["in_memory"]
                line += f"; built from the texts: {built['seconds']:.1f} s, RSS +{built['rss_after_questions_mb']:.0f} MB"
            print(line)

    parser = _add(
        benches,
        "grammar",
        "edit's corpus grammar as a bank's memory-mapped files vs built from the texts: disk, load seconds, RSS",
        lambda settings: {"n": settings["n"], "seed": settings["seed"], "corpora": bench.run_grammar(**_bench(settings))},
        show,
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="synthetic captions (MILS lines recombined; default 1,000,000)")
    parser.add_argument("--seed", type=seed, default=0, help="draws the synthetic captions")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the grammar built from the texts")
