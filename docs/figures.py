"""Every table of measured figures in README.md and docs/**/*.md, generated from the reports in docs/bench/*.json.

    python docs/figures.py           # rewrite every table between its markers
    python docs/figures.py --check   # change nothing; exit 1 and name each table that differs

A generated table sits between two HTML comments, which Markdown and MkDocs leave out of the page:

    <!-- figures: NAME [ARGUMENT] -->
    ...generated, never edited by hand...
    <!-- /figures -->

NAME is a key of FIGURES below; ARGUMENT, where the table takes one, is a report's name (`explain-minibind`). Each
report keeps its own record of how it was measured under "measured" (command, machine, load, commit, date:
`unembed bench` writes it), which the Benchmarks page prints through `measured`. tests/test_docs.py fails when a
committed page differs from what this script generates, and when a report in docs/bench is missing from the
Benchmarks page.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "docs" / "bench"
MARKER = re.compile(r"(<!-- figures: (?P<spec>[^>]*?) -->\n)(?P<body>.*?)(<!-- /figures -->)", re.S)


@lru_cache(maxsize=None)
def report(name: str) -> dict:
    return json.loads((BENCH / f"{name}.json").read_text(encoding="utf-8"))


def reports() -> list[str]:
    return sorted(path.stem for path in BENCH.glob("*.json"))


# Number formats: one place decides how many digits each kind of figure shows.
def cos(value: float) -> str:
    return f"{value:.3f}"


def acc(value: float) -> str:
    return f"{value:.2f}"


def nats(value: float) -> str:
    return f"{value:.2f}".replace("-", "−")


def pct(value: float) -> str:
    return f"{100 * value:.0f} %"


def secs(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def source(*names: str) -> str:
    """The line under a table that names its reports (linked from the docs site; plain paths in README.md)."""
    return "\nReports: " + ", ".join(f"`docs/bench/{name}.json`" for name in names) + ".\n"


# --- the tables ----------------------------------------------------------------------------------------------------

def headline() -> str:
    """README.md: what the loop adds to the caption bank's best, one row per kind of target (at most 6 rows)."""
    image, audio = report("invert-mils-image-decoder-edit"), report("invert-mils-audio-decoder-edit")
    everyday, edit = report("invert-everyday-decoder-edit"), report("invert-everyday-edit")
    world, evaluation = report("minibind-open-world-seed7"), report("eval-minibind-image")
    runs = {run["column"]: run["scores"] for run in evaluation["runs"]}
    rows = [
        [f"{image['n']} held-out MILS image captions (MiniLM)", "cosine; exact caption",
         f"{cos(image['bank_top1_cosine'])}; {pct(image['bank_top1_exact_match_rate'])}",
         f"**{cos(image['final_cosine'])}**; **{pct(image['exact_match_rate'])}**"],
        [f"{audio['n']} held-out MILS audio captions (MiniLM)", "cosine", cos(audio["bank_top1_cosine"]), f"**{cos(audio['final_cosine'])}**"],
        [f"{everyday['n']} everyday sentences no bank holds (MiniLM)", "cosine", cos(everyday["bank_top1_cosine"]),
         f"**{cos(everyday['final_cosine'])}** (`edit` alone: {cos(edit['final_cosine'])})"],
        [f"{world['image_inversion']['n']} MiniBind pictures the bank has no caption for (`edit`)", "scene read right",
         acc(world["image_bank_top1_parsed_accuracy"]), f"**{acc(world['image_inversion']['accuracy'])}**"],
        [f"{world['audio_inversion']['n']} MiniBind sounds the bank has no caption for (`edit`)", "scene read right",
         acc(world["audio_bank_top1_parsed_accuracy"]), f"**{acc(world['audio_inversion']['accuracy'])}**"],
        [f"{evaluation['reference_ids']} held-out MiniBind pictures (5 references each), `edit`", "CIDEr (x100)",
         f"{100 * runs['bootstrap_text']['CIDEr']:.1f}", f"**{100 * runs['text']['CIDEr']:.1f}**"],
    ]
    return table(["target", "measure", "caption bank's best", "the loop (its default generator)"], rows)


INVERT_RUNS = [
    ("invert-mils-image-decoder-edit", "mils-image, `decoder+edit` (the default)"),
    ("invert-mils-image-decoder", "mils-image, `decoder`"),
    ("invert-mils-image-edit", "mils-image, `edit`"),
    ("invert-mils-image-lexicon", "mils-image, `edit:lexicon`"),
    ("invert-mils-image-default", "mils-image, `llama.cpp+mutate` (MILS's LLM loop with SmolLM2)"),
    ("invert-mils-image-mutate", "mils-image, `mutate` (fluency-gated)"),
    ("invert-mils-image-llama", "mils-image, `llama.cpp` alone"),
    ("invert-mils-image-mutate-ungated", "mils-image, `mutate --no-fluency`"),
    ("invert-mils-audio-decoder-edit", "mils-audio, `decoder+edit` (the default)"),
    ("invert-mils-audio-edit", "mils-audio, `edit`"),
    ("invert-mils-audio-default", "mils-audio, `llama.cpp+mutate`"),
    ("invert-everyday-decoder-edit", "everyday sentences (bank mils-image), `decoder+edit` (the default)"),
    ("invert-everyday-decoder", "everyday sentences (bank mils-image), `decoder`"),
    ("invert-everyday-edit", "everyday sentences (bank mils-image), `edit`"),
    ("invert-everyday-lexicon", "everyday sentences (bank mils-image), `edit:lexicon`"),
]


def earlier_draw(r: dict) -> bool:
    """Whether a report on a bank's own captions drew its targets from the whole bank (runs before the held-out split,
    unembed.index.is_held_out, which every later run draws from): its figures are on other targets."""
    from unembed.index import is_held_out

    return "everyday" not in r["measured"]["command"] and not all(is_held_out(e["target"]) for e in r["examples"])


def invert() -> str:
    """Held-out captions and everyday sentences inverted in MiniLM: every generator measured."""
    rows = []
    for name, label in INVERT_RUNS:
        r = report(name)
        rows.append([label + (" †" if earlier_draw(r) else ""), str(r["n"]), cos(r["bank_top1_cosine"]), f"{cos(r['final_cosine'])} (+{r['final_cosine'] - r['bank_top1_cosine']:.3f})",
                     f"{nats(r['bank_top1_fluency'])} → {nats(r['fluency'])}", f"{acc(r['bank_top1_bleu4'])} → {acc(r['bleu4'])}",
                     pct(r["exact_match_rate"]), secs(r["seconds_per_target"]), secs(r["llm_calls_per_target"])])
    reference = report("invert-mils-image-default")
    rows.append([f"MILS's reference procedure (`llama.cpp+mutate`), the first {reference['reference_n']} mils-image targets",
                 str(reference["reference_n"]), "", f"{cos(reference['reference_final_cosine'])} (ours on the same: "
                 f"{cos(reference['final_cosine_on_reference_targets'])})", f"{nats(reference['reference_fluency'])} (ours: "
                 f"{nats(reference['fluency_on_reference_targets'])})", "", pct(reference["reference_exact_match_rate"]),
                 secs(reference["reference_seconds_per_target"]), secs(reference["reference_llm_calls_per_target"])])
    header = ["run", "n", "bank top-1 cosine", "final cosine", "fluency (nats/token)", "BLEU-4", "exact", "s/target", "LLM calls/target"]
    note = ("\n† Measured before held-out targets came from the held-out split (one caption in 50, which no decoder trains on): "
            "50 other held-out captions of the same bank.\n")
    return table(header, rows) + note + source(*(name for name, _ in INVERT_RUNS))


def invert_speedup() -> str:
    r = report("invert-mils-image-default")
    return table(["", "s/target", "cosine on the same targets"], [
        [f"MILS's reference procedure (first {r['reference_n']} targets)", secs(r["reference_seconds_per_target"]), cos(r["reference_final_cosine"])],
        ["this loop, same generator (`llama.cpp+mutate`)", secs(r["seconds_per_target"]), cos(r["final_cosine_on_reference_targets"])],
        ["speed-up", f"{r['speedup_vs_reference']:.1f}x", ""],
    ]) + source("invert-mils-image-default")


DECODER_TARGETS = {"mils-image": "held-out MILS image captions", "mils-audio": "held-out MILS audio captions",
                   "everyday": "everyday sentences no bank holds"}


def decoder() -> str:
    """The shipped decoder alone, one pass, on each target set; and what training it cost."""
    r = report("decoder-minilm")
    rows = []
    for name, label in DECODER_TARGETS.items():
        t = r[name]
        rows.append([f"{t['n']} {label}", cos(t["bank_top1_cosine"]), f"{cos(t['greedy_cosine'])}; {pct(t['greedy_exact_match_rate'])}",
                     f"{cos(t['best_of_samples_cosine'])}; {pct(t['best_of_samples_exact_match_rate'])}",
                     f"{nats(t['target_fluency'])} / {nats(t['bank_top1_fluency'])} / {nats(t['greedy_fluency'])}",
                     f"{1000 * t['decode_seconds_per_target']:.0f}"])
    training = r["training"]
    cost = (f"\nTraining: {training['captions']:,} captions, {training['epochs']:g} epochs in {training['seconds'] / 60:.0f} min on "
            f"{training['threads']} threads ({training['machine']}): {training['seconds_per_million_caption_epochs'] / 60:.0f} min per "
            f"million caption-passes; validation loss {training['validation_loss']:.2f} nats/token.\n")
    header = ["targets", "bank top-1 cosine", "greedy: cosine; exact", f"best of {r['samples']}: cosine; exact",
              "fluency: true / bank / greedy", "ms/target"]
    return table(header, rows) + cost + source("decoder-minilm")


DECODER_RUNS = [
    ("everyday", "invert-everyday-edit", "`edit`"),
    ("everyday", "invert-everyday-lexicon", "`edit:lexicon`"),
    ("everyday", "invert-everyday-decoder", "`decoder`"),
    ("everyday", "invert-everyday-decoder-edit", "`decoder+edit` (the default)"),
    ("mils-image", "invert-mils-image-edit", "`edit`"),
    ("mils-image", "invert-mils-image-decoder", "`decoder`"),
    ("mils-image", "invert-mils-image-decoder-edit", "`decoder+edit` (the default)"),
    ("mils-audio", "invert-mils-audio-edit", "`edit`"),
    ("mils-audio", "invert-mils-audio-decoder-edit", "`decoder+edit` (the default)"),
]


def decoder_loop() -> str:
    rows = []
    for target, name, label in DECODER_RUNS:
        r = report(name)
        rows.append([f"{DECODER_TARGETS[target]}, {label}", str(r["n"]), cos(r["bank_top1_cosine"]), f"**{cos(r['final_cosine'])}**",
                     pct(r["exact_match_rate"]), f"{nats(r['target_fluency'])} / {nats(r['bank_top1_fluency'])} / {nats(r['fluency'])}",
                     secs(r["seconds_per_target"])])
    header = ["targets, generator", "n", "bank top-1 cosine", "final cosine", "exact", "fluency: true / bank / returned", "s/target"]
    return table(header, rows) + source(*dict.fromkeys(name for _, name, _ in DECODER_RUNS))


def decoder_examples() -> str:
    r = report("invert-everyday-decoder-edit")
    rows = [[e["target"], e["returned"], cos(e["final_cosine"]), f"{e['bank_top1']} ({cos(e['bank_top1_cosine'])})"] for e in r["examples"][:10]]
    return table(["everyday sentence", "returned (`decoder+edit`)", "cosine", "bank's best (cosine)"], rows) + source("invert-everyday-decoder-edit")


MINIBIND_DECODER_RUNS = ["minibind-open-world", "minibind-open-world-seed7", "minibind-open-world-seed2026", "minibind-open-world-decoder-edit",
                         "minibind-open-world-decoder-edit-seed7", "minibind-open-world-decoder-edit-seed2026", "minibind-edit",
                         "minibind-decoder-edit"]


def decoder_minibind() -> str:
    rows = []
    for name in MINIBIND_DECODER_RUNS:
        r = report(name)
        world = "open world" if r["open_world"] else "closed world"
        tuned = "`edit`'s rules tuned on it" if r["seed"] == 12345 else "nothing tuned on it"
        image, audio = r["image_inversion"], r["audio_inversion"]
        rows.append([f"{world}, `{image['generator']}`, seed {r['seed']} ({tuned})", str(image["n"]),
                     f"{acc(image['accuracy'])} / {acc(image['grammatical_accuracy'])}", f"{acc(audio['accuracy'])} / {acc(audio['grammatical_accuracy'])}",
                     f"{acc(r['image_retrieval_top1'])} / {acc(r['audio_retrieval_top1'])}",
                     f"{image['seconds_per_target']:.2f} / {audio['seconds_per_target']:.2f}"])
    header = ["run", "n per modality", "image: read right / in the grammar", "audio: read right / in the grammar",
              "the space's ceiling (image / audio)", "s/target (image / audio)"]
    note = ("\nThe space's ceiling is MiniBind's own retrieval top-1: how often the true caption is the nearest of every caption "
            "of the scene's family (held-out ones included). A generator that writes only in the grammar and keeps the "
            "nearest cannot read more scenes right than that.\n")
    return table(header, rows) + note + source(*MINIBIND_DECODER_RUNS)


def bank_index() -> str:
    r = report("bank-1m-minilm")
    rows = [["`Flat` (exact baseline)", f"{r['flat_query_ms_p50']:.0f}", "1", "1"]]
    sweep = r["sweep"] + [{key: r[key] for key in ("search_params", "query_ms_p50", "query_ms_p95", "recall_at_10", "recall_at_50")}]
    for row in sorted(sweep, key=lambda row: int(re.search(r"nprobe=(\d+)", row["search_params"])[1])):
        chosen = row["search_params"] == r["search_params"]
        cells = [f"`{r['index']}`, `{row['search_params']}`" + (" (recommended)" if chosen else ""),
                 f"{row['query_ms_p50']:.2f} ({row['query_ms_p95']:.1f})", f"{row['recall_at_10']:.3f}", f"{row['recall_at_50']:.3f}"]
        rows.append([f"**{cell}**" for cell in cells] if chosen else cells)
    return table(["index, search params", "query p50 (p95) ms", "recall@10", "recall@50"], rows) + source("bank-1m-minilm")


def bank_costs() -> str:
    r = report("bank-1m-minilm")
    return table(["", ""], [
        ["vectors (synthetic, MiniLM-shaped)", f"{r['n_vectors']:,} x {r['dim']}"],
        ["queries (one at a time, FAISS threads)", f"{r['queries']}, top {r['k']} ({r['threads']} thread{'s' if r['threads'] > 1 else ''})"],
        [f"build time, `{r['index']}`", f"{r['build_s']:.0f} s ({r['build_threads']} threads)"],
        ["index size (codes + float vectors for re-ranking)", f"{r['index_bytes'] / 1e9:.1f} GB (`Flat` alone: {r['flat_index_bytes'] / 1e9:.1f} GB)"],
        ["peak memory of the run", f"{r['peak_rss_mb'] / 1024:.1f} GB"],
        [f"MILS's reference bootstrap: re-encode the {r['reference_bank_size']:,}-caption `{r['reference_bank']}` bank per sample",
         f"{r['reencode_s']:.0f} s"],
        ["one top-50 query of that bank as a `Flat` index", f"{r['bootstrap_query_ms_p50']:.1f} ms ({r['bootstrap_speedup_vs_reencode']:,.0f}x faster)"],
    ]) + source("bank-1m-minilm")


def bank_10m() -> str:
    """`unembed bench bank --n 10000000`: a bank past this machine's RAM, built from a vectors file and searched in
    fresh processes; one row per seed and search setting, and the build's and the queries' costs."""
    names = [name for name in ("bank-10m-minilm", "bank-10m-minilm-seed1") if (BENCH / f"{name}.json").exists()]
    rows, costs = [], []
    for name in names:
        r = report(name)
        chosen = {key: r[key] for key in ("search_params", "query_ms_p50", "query_ms_p95", "recall_at_10", "recall_at_50")}
        setting = lambda row: [int(value) for value in re.findall(r"=(\d+)", row["search_params"])]  # noqa: E731  nprobe, then k_factor_rf
        for row in sorted([*r["sweep"], chosen], key=setting):
            cells = [f"seed {r.get('seed', 0)}",
                     f"`{r['index']}`, `{row['search_params']}`", f"{row['query_ms_p50']:.2f} ({row['query_ms_p95']:.1f})",
                     f"{row['recall_at_10']:.3f}", f"{row['recall_at_50']:.3f}"]
            rows.append([f"**{cell}**" for cell in cells] if row is chosen else cells)
        costs.append([f"seed {r.get('seed', 0)}", f"{r['n_vectors']:,} x {r['dim']}", f"{r['build_s'] / 60:.0f} min",
                      f"{r['build_peak_rss_mb'] / 1024:.1f} GB", f"{r['load_s']:.0f} s", f"{r['query_rss_mb'] / 1024:.1f} GB",
                      f"{r['index_bytes'] / 1e9:.1f} GB + {r['vectors_bytes'] / 1e9:.1f} GB", f"{r['flat_query_ms_p50'] / 1000:.1f} s"])
    searches = table(["seed", "index, search params", "query p50 (p95) ms", "recall@10", "recall@50"], rows)
    spent = table(["seed", "vectors", "build", "build peak RSS", "load (checks every file)", "query-time peak RSS",
                   "index.faiss + vectors.npy", "exact scan of the file, one query"], costs)
    return searches + "\n" + spent + source(*names)


def imagebind_speed() -> str:
    rows = []
    labels = {"text": "text candidates scored", "image": "images 480x640", "audio": "audio 10 s (3 clips)"}
    for name in ("imagebind-huge-text-cpu", "imagebind-huge-image-audio-cpu"):
        for row in report(name)["rows"]:
            speed = f"{row['items_per_second']:.3f}" + (f" ({row['clips_per_second']:.2f} clips/s)" if "clips_per_second" in row else "")
            rows.append([labels[row["modality"]], row["dtype"], str(row["batch_size"]), speed, f"{row['ratio_to_baseline']:.2f}"])
    return table(["modality", "dtype", "batch", "items/s", "vs float32 batch 1"], rows) + source(
        "imagebind-huge-text-cpu", "imagebind-huge-image-audio-cpu")


def minibind() -> str:
    closed, edit = report("minibind"), report("minibind-edit")
    row = lambda label, key: [label, acc(closed[f"image_{key}"]), acc(closed[f"audio_{key}"])]  # noqa: E731
    family = lambda modality: ", ".join(f"{name} {acc(value)}" for name, value in sorted(closed[f"{modality}_retrieval_per_family"].items()))  # noqa: E731
    inversion = lambda r, label: [f"{label} ({r['image_inversion']['n']} per modality)", acc(r["image_inversion"]["accuracy"]),  # noqa: E731
                                  acc(r["audio_inversion"]["accuracy"])]
    return table(["", "image", "audio"], [
        [f"retrieval top-1 among all captions of the scene's family (n={closed['n']})",
         f"{acc(closed['image_retrieval_top1'])} ({family('image')})", f"{acc(closed['audio_retrieval_top1'])} ({family('audio')})"],
        row(f"bank top-1 read right (world captions + {closed['image_bank_baseline']['distractors']} MILS lines)", "bank_top1_parsed_accuracy"),
        inversion(edit, f"the loop, `edit`, {edit['image_inversion']['steps']} step x {edit['image_inversion']['requested']} texts"),
        inversion(closed, f"the loop, `llama.cpp+mutate`, {closed['image_inversion']['steps']} step x {closed['image_inversion']['requested']} texts"),
    ]) + source("minibind", "minibind-edit")


def minibind_open_world() -> str:
    r, llm = report("minibind-open-world"), report("minibind-open-world-llama-mutate")
    both = lambda f: [f(r["image_inversion"]), f(r["audio_inversion"])]  # noqa: E731
    fluency = lambda i: f"{nats(i['fluency'])} / {nats(i['bootstrap_fluency'])} / {nats(i['truth_fluency'])}"  # noqa: E731
    n = r["image_inversion"]["n"]
    return table(["", "image", "audio"], [
        ["bank top-1 read right", acc(r["image_bank_top1_parsed_accuracy"]), acc(r["audio_bank_top1_parsed_accuracy"])],
        [f"`edit`, read right (n={n})", *both(lambda i: f"**{acc(i['accuracy'])}**")],
        ["`edit`, read right and in the world's caption grammar", *both(lambda i: acc(i["grammatical_accuracy"]))],
        ["`edit`, the scene's canonical caption word for word", *both(lambda i: acc(i["strict_accuracy"]))],
        ["changed by the search", *both(lambda i: acc(i["changed_by_search"]))],
        ["seconds per target", *both(lambda i: f"{i['seconds_per_target']:.2f}")],
        ["fluency (SmolLM2, nats/token): returned / bank top-1 / true captions", *both(fluency)],
        [f"`llama.cpp+mutate` (n={llm['image_inversion']['n']}), read right / in the grammar",
         *[f"{acc(llm[m]['accuracy'])} / {acc(llm[m]['grammatical_accuracy'])}" for m in ("image_inversion", "audio_inversion")]],
        ["`llama.cpp+mutate`: seconds, LLM calls per target",
         *[f"{llm[m]['seconds_per_target']:.0f}, {llm[m]['llm_calls_per_target']:.0f}" for m in ("image_inversion", "audio_inversion")]],
    ]) + source("minibind-open-world", "minibind-open-world-llama-mutate")


def arith() -> str:
    r = report("arith-minibind")
    rows = [["bank top-1 of the combined embedding (no loop)", acc(r["bank_top1"]["arith_success"]), acc(r["bank_top1"]["analogy_accuracy"])],
            ["embedding mode (combine, invert the sum)", acc(r["embedding_mode"]["arith_success"]), acc(r["embedding_mode"]["analogy_accuracy"])],
            ["**text mode** (invert each, merge, check against the combination)", f"**{acc(r['text_mode']['arith_success'])}**",
             f"**{acc(r['text_mode']['analogy_accuracy'])}**"]]
    return table([f"{r['n']} cases per task", "arith_success", "analogy_accuracy"], rows) + source("arith-minibind")


def arith_details() -> str:
    r = report("arith-minibind")
    speed, render = r["speed"], r["render_and_score"]
    return table(["", ""], [
        ["picture inverted with its shape and colour right", acc(r["term_inversion"]["image_object_accuracy"])],
        ["sound inverted with its kind right", acc(r["term_inversion"]["sound_kind_accuracy"])],
        ["SmolLM2's merge won (arith / analogy cases)", f"{pct(r['text_mode']['llm_merge_win_rate']['arith'])} / "
         f"{pct(r['text_mode']['llm_merge_win_rate']['analogy'])}"],
        [f"render-and-score on {render['n']} cases: rendered cosine before → after", f"{cos(render['rendered_cosine_start'])} → "
         f"{cos(render['rendered_cosine_end'])}"],
        ["time vs one FAISS search: embedding mode / text mode / render-and-score",
         f"x{speed['embedding_mode_vs_bank_top1']:,.0f} / x{speed['text_mode_vs_bank_top1']:,.0f} / x{speed['render_and_score_vs_bank_top1']:,.0f}"],
    ]) + source("arith-minibind")


def explain(name: str) -> str:
    r = report(name)
    rows = [[label, str(r[kind]["n"]), acc(r[kind]["bank_top1_accuracy"]), acc(r[kind]["loop_accuracy"]), f"{r[kind]['seconds_per_explanation']:.2f}"]
            for kind, label in (("direction", "direction"), ("probe", "probe"), ("sae_feature", "SAE feature"))]
    return table(["kind", "n", "bank top-1", "loop", "seconds per explanation"], rows) + source(name)


def evaluation() -> str:
    rows = []
    for name, label in (("eval-minibind-image", "minibind-image"), ("eval-mils-image", "mils-image (MiniLM)")):
        r = report(name)
        for run in sorted(r["runs"], key=lambda run: run["column"] != "bootstrap_text"):
            scores = run["scores"]
            what = "bootstrap_text (bank only)" if run["column"] == "bootstrap_text" else "text (loop, `edit`)"
            rows.append([f"{label}, n={run['n']}", what, *(f"{100 * scores[key]:.1f}" for key in ("BLEU-4", "METEOR", "ROUGE-L", "CIDEr"))])
    return table(["eval set", "column", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr"], rows) + source("eval-minibind-image", "eval-mils-image")


def scale() -> str:
    r = report("scale-minilm")
    labels = {"in_process": "in process (torch's threads)", "ray_1_worker": "Ray, 1 worker (1 CPU)", "ray_2_workers": "Ray, 2 workers (1 CPU each)"}
    base = r["runs"]["ray_1_worker"]["targets_per_minute"]
    rows = []
    for key, run in r["runs"].items():
        same = "—" if key == "in_process" else pct(r["same_texts_as_in_process"][key])
        rows.append([labels[key], f"{run['targets_per_minute']:.0f}", f"{run['targets_per_minute'] / base:.2f}x", f"{run['startup_seconds']:.1f} s",
                     " / ".join(f"{mb:.0f}" for mb in run["peak_rss_mb_per_worker"]) + " MB", same])
    return table([f"{r['n']} targets", "targets / min", "vs 1 Ray worker", "startup", "peak RSS per worker", "same texts as in process"],
                 rows) + source("scale-minilm")


def scale_cluster() -> str:
    """`unembed bench scale --cluster`: a local cluster of three real nodes, one worker node killed mid-run."""
    names = ["scale-cluster-minilm", "scale-cluster-minilm-seed1"]
    rows = []
    for name in names:
        r = report(name)
        here, there = r["runs"]["in_process"], r["runs"]["cluster"]
        rows.append([
            f"seed {r['settings']['seed']}", f"{r['cluster']['killed_node']} ({there['killed']['processes']} processes), after shard "
            f"{there['killed']['after_shards']}", f"{r['rows']} of {r['n']}", str(r["lost_targets"]), str(r["duplicate_targets"]),
            pct(r["same_texts_as_in_process"]), f"{there['wall_seconds']:.0f} s ({there['wall_seconds'] / here['wall_seconds']:.2f}x in process)",
        ])
    nodes = ", ".join(report(names[0])["cluster"]["nodes"])
    return table([f"{nodes}; 2 workers", "killed", "rows", "targets lost", "written twice", "same texts as in process",
                  "wall (vs in process)"], rows) + source(*names)


def serve() -> str:
    """`unembed bench serve`: sessions at once, then many requests, on the tuned seed and on one never tuned on."""
    names = ["serve-minibind", "serve-minibind-seed1"]
    rows = []
    for name in names:
        r = report(name)
        now, load, rss = r["concurrent"], r["load"], r["rss_mb"]
        rows.append([
            f"seed {r['seed']}", f"{now['finished']} / {now['own_answers']} / {now['right_scene']}",
            f"{now['p50_seconds']:.2f} / {now['p95_seconds']:.2f} s", f"{load['own_answers']}",
            f"{load['p50_seconds']:.2f} / {load['p95_seconds']:.2f} s",
            f"{load['job_p50_seconds']:.2f} s ({load['job_p50_ratio_to_in_process']:.2f}x)",
            f"{load['requests_per_second']:.1f} ({load['throughput_ratio_to_in_process']:.2f}x)",
            f"{rss['warm']:.0f} MB", f"{rss['growth_after_first_fifth']:+.0f} MB",
        ])
    first = report(names[0])
    n, many = first["sessions"], first["requests"]
    header = [f"{first['workers']} worker", f"{n} at once: finished / own answer / scene", "their latency p50 / p95",
              f"{many} requests: own answer", "latency p50 / p95", "job p50 (vs in process)", "requests / s (vs in process)",
              "RSS warm", f"RSS growth, requests {many // 5}–{many}"]
    return table(header, rows) + source(*names)


def grammar() -> str:
    """`unembed bench grammar`: the bank's grammar files, mapped, against the grammar built from the texts."""
    names = ["grammar-1m", "grammar-1m-seed1"]
    rows = []
    for name in names:
        for corpus, row in report(name)["corpora"].items():
            if corpus == "mils" and name != names[0]:
                continue  # MILS's lines do not depend on the seed
            mapped, built, ratio = row["mapped"], row["in_memory"], row["mapped_vs_in_memory"]
            label = "MILS's image and audio lines" if corpus == "mils" else f"MILS's lines recombined, seed {report(name)['seed']}"
            rows.append([
                label, f"{row['texts']:,}", f"{row['write']['seconds']:.1f} s", f"{row['disk_mb']:.1f} MB",
                f"{mapped['seconds'] * 1000:.0f} ms ({built['seconds']:.1f} s)",
                f"{mapped['rss_after_questions_mb']:.0f} MB ({built['rss_after_questions_mb']:.0f} MB; {ratio['rss_after_questions']:.3f}x)",
                f"{mapped['own_rss_after_questions_mb']:.0f} MB ({built['own_rss_after_questions_mb']:.0f} MB)",
                f"{ratio['questions_seconds']:.2f}x",
            ])
    header = ["corpus", "texts", "files written", "on disk", "open mapped (build from texts)", "RSS after 2,000 texts' questions, mapped (built; ratio)",
              "of it the process's own, mapped (built)", "questions' time, mapped vs built (built: its first question builds its phrase set)"]
    return table(header, rows) + source(*names)


def measured(*names: str) -> str:
    """How each report was measured, from its "measured" record."""
    lines = []
    for name in names:
        record = report(name).get("measured")
        if record is None:
            raise SystemExit(f"docs/bench/{name}.json has no \"measured\" record (command, machine, load, commit, date)")
        load = record["load"]
        if isinstance(load, dict):  # written by `unembed bench`: 1/5/15-minute load averages at start and end
            load = f"load average {load['start'][0]:.1f} at the start, {load['end'][1]:.1f} over the last 5 minutes" if load["start"] and load["end"] else None
        commit = f"`{record['commit'][:10]}`" if record.get("commit") else "not a git checkout"
        lines.append(f"- **`{name}.json`**: `{record['command']}`")
        for before in record.get("before", []):
            lines.append(f"    - after `{before}`")
        detail = f"{record['machine']}; {load or 'load not recorded'}; commit {commit}; {record['date']}"
        lines.append(f"    - {detail}" + (f". {record['note']}" if record.get("note") else ""))
        if record.get("reconstructed"):
            lines.append(f"    - {record['reconstructed']}")
    return "\n".join(lines) + "\n"


FIGURES: dict[str, Callable[..., str]] = {
    "headline": headline, "invert": invert, "invert-speedup": invert_speedup, "bank-index": bank_index, "bank-costs": bank_costs, "bank-10m": bank_10m,
    "imagebind-speed": imagebind_speed, "minibind": minibind, "minibind-open-world": minibind_open_world, "arith": arith,
    "arith-details": arith_details, "explain": explain, "eval": evaluation, "scale": scale, "measured": measured,
    "decoder": decoder, "decoder-loop": decoder_loop, "decoder-examples": decoder_examples, "decoder-minibind": decoder_minibind,
    "serve": serve, "grammar": grammar, "scale-cluster": scale_cluster,
}


# --- pages -----------------------------------------------------------------------------------------------------------

def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def generate(spec: str) -> str:
    name, *arguments = spec.split()
    if name not in FIGURES:
        raise SystemExit(f"unknown figures {name!r}; known: {', '.join(FIGURES)}")
    return FIGURES[name](*arguments)


def render(text: str) -> str:
    """The page with every marked table regenerated."""
    return MARKER.sub(lambda match: match[1] + generate(match["spec"]) + match[4], text)


def used_reports(text: str) -> set[str]:
    """Reports whose figures the page's generated tables show (their `docs/bench/NAME.json` lines)."""
    return set(re.findall(r"`docs/bench/([\w.-]+)\.json`", "".join(match["body"] for match in MARKER.finditer(text))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a page differs from what is generated")
    args = parser.parse_args(argv)
    stale = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            stale.append(page.relative_to(ROOT))
            if not args.check:
                page.write_text(new, encoding="utf-8")
    if args.check and stale:
        print("figures differ from docs/bench/*.json in: " + ", ".join(map(str, stale)) + ". Run `python docs/figures.py`.", file=sys.stderr)
        return 1
    print(("rewrote " + ", ".join(map(str, stale))) if stale and not args.check else "figures are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
