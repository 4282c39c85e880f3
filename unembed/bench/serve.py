"""`unembed bench serve` (`run_serve`): the web app under load, against the same inversions run in-process.

MiniBind pictures of known scenes (sampled with the seed, drawn, saved as PNG) are inverted three ways:
1. in-process with `unembed.invert` and the server's settings (one generator and one bounded cache for all), each
   picture's expected answer, then the same requests one at a time: the baseline;
2. by `sessions` clients at once, one picture each, through `unembed serve` in its own process: every client must
   get its own picture's answer (the in-process one), and how many name their scene rightly is counted;
3. `requests` requests in all from `sessions` looping clients, the server's resident memory sampled as they finish:
   it must stay flat once the server is warm.
Latencies are per request, from sending the upload to reading the result, waiting in line included.
"""

from __future__ import annotations

import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .. import checks
from ..generators import default_generator, load_generator
from ..index import resolve_bank
from ..inverter import invert
from ..minibind import world
from ..serve import ServeSettings
from ..serve.client import local_server, run_job
from ..spaces import TextEmbeddingCache, load_space


def run_serve(*, sessions: int = 20, requests: int = 200, workers: int = 1, seed: int = 0) -> dict:
    """The report: answers per client; latency (p50/p95) and throughput served, beside the same requests in-process;
    server memory over the requests."""
    sessions, requests, workers = checks.count(sessions, "sessions"), checks.count(requests, "requests"), checks.count(workers, "workers")
    rng = np.random.default_rng(seed)
    scenes = world.sample_scenes("image", sessions, rng, held_out=False)
    with tempfile.TemporaryDirectory(prefix="unembed-bench-serve-") as folder:
        pictures = []
        for index, scene in enumerate(scenes):
            path = Path(folder) / f"picture-{index}.png"
            Image.fromarray(world.render_image(scene, rng)).save(path)
            pictures.append(path)
        expected, direct = _in_process(pictures, requests, seed)
        options = ["--space", "minibind", "--workers", str(workers), "--queue", str(max(sessions, 32))]
        with local_server(*options) as server:
            _ask(server.url, pictures[0], seed)  # warm: the first job builds the edit generator's grammar
            rss_warm = server.rss_mb()
            with ThreadPoolExecutor(sessions) as pool:
                concurrent = list(pool.map(lambda path: _ask(server.url, path, seed), pictures))
            loop = _loop(server, pictures, requests, sessions, seed)
    served = loop["asked"]
    answered = [each for each in served if each.answer is not None]  # times of jobs that failed would flatter the figures
    latency = [each.seconds for each in answered]
    job = [each.job_seconds for each in answered if each.job_seconds is not None]
    in_process_rate = requests / sum(direct)
    return {
        "bench": "serve",
        "space": "minibind",
        "generator": "edit (the space's default)",
        "seed": seed,
        "workers": workers,
        "sessions": sessions,
        "requests": requests,
        "baseline": "the same requests (pictures in the same order) inverted in-process with unembed.invert, one at a time, "
        "with the server's settings: one generator and one bounded cache, warmed by a first pass over the pictures",
        "in_process": {"p50_seconds": round(float(np.percentile(direct, 50)), 4), "requests_per_second": round(in_process_rate, 2)},
        "concurrent": {
            "finished": sum(each.answer is not None for each in concurrent),
            "own_answers": sum(each.answer == mine for each, mine in zip(concurrent, expected, strict=True)),
            "right_scene": sum(_names(each.answer, scene) for each, scene in zip(concurrent, scenes, strict=True)),
            "in_process_right_scene": sum(_names(text, scene) for text, scene in zip(expected, scenes, strict=True)),
            "p50_seconds": round(float(np.percentile([each.seconds for each in concurrent], 50)), 4),
            "p95_seconds": round(float(np.percentile([each.seconds for each in concurrent], 95)), 4),
            "longest_line": max(each.line for each in concurrent),
        },
        "load": {
            "finished": sum(each.answer is not None for each in served),
            "own_answers": sum(each.answer == expected[number % sessions] for number, each in zip(loop["numbers"], served, strict=True)),
            "p50_seconds": round(float(np.percentile(latency, 50)), 4),
            "p95_seconds": round(float(np.percentile(latency, 95)), 4),
            "job_p50_seconds": round(float(np.percentile(job, 50)), 4),
            "job_p50_ratio_to_in_process": round(float(np.percentile(job, 50)) / float(np.percentile(direct, 50)), 2),
            "requests_per_second": round(len(answered) / loop["seconds"], 2),
            "throughput_ratio_to_in_process": round(len(answered) / loop["seconds"] / in_process_rate, 2),
        },
        "rss_mb": {
            "warm": round(rss_warm, 1),
            "samples": loop["rss"],  # [requests finished, MB]
            "growth_after_first_fifth": round(_growth(loop["rss"], requests), 1),
        },
    }


def _in_process(pictures: list[Path], requests: int, seed: int) -> tuple[list[str], list[float]]:
    """Each picture's answer, and the seconds of each of `requests` inversions (the pictures in turn), inverted as the
    server's jobs are: its settings, one generator and one bounded cache for all, each picture read from its file.
    The answers come from a first pass that warms the cache and the generator, as the server's first jobs warm its."""
    space = load_space("minibind")
    bank = resolve_bank(None, space, "image")
    generator = load_generator(default_generator(space))
    cache = TextEmbeddingCache(space, limit=ServeSettings().cached_texts)

    def one(path: Path) -> str:
        return invert(
            space.embed("image", [path])[0], space=space, bank=bank, generator=generator, cache=cache, modality="image", seed=seed
        ).text

    answers = [one(path) for path in pictures]
    seconds = []
    for number in range(requests):
        started = time.perf_counter()
        one(pictures[number % len(pictures)])
        seconds.append(time.perf_counter() - started)
    return answers, seconds


@dataclass
class _Asked:
    answer: str | None  # None: the job ended without a result
    seconds: float  # from sending the upload to reading the result, the wait in line included
    job_seconds: float | None  # the job's own run time, as the server reports it
    line: int  # the longest line it waited in


def _ask(url: str, picture: Path, seed: int) -> _Asked:
    started = time.perf_counter()
    events = run_job(url, "invert", files={"file": picture}, fields={"seed": str(seed)})
    seconds = time.perf_counter() - started
    line = max((event["position"] for event in events if event["type"] == "queued"), default=0)
    last = events[-1]
    return _Asked(last["text"] if last["type"] == "result" else None, seconds, last.get("seconds"), line)


def _names(answer: str | None, scene) -> bool:
    return answer is not None and world.matches(world.parse_text(answer, "image"), scene)


def _loop(server, pictures: list[Path], requests: int, sessions: int, seed: int) -> dict:
    """`requests` requests from `sessions` clients, each asking again as soon as it has its answer."""
    taken, lock = iter(range(requests)), threading.Lock()
    results: list[_Asked | None] = [None] * requests
    done: list[int] = []
    failures: list[BaseException] = []

    def client() -> None:
        try:
            while True:
                with lock:
                    number = next(taken, None)
                if number is None:
                    return
                results[number] = _ask(server.url, pictures[number % len(pictures)], seed)
                with lock:
                    done.append(number)
        except BaseException as error:  # a client that fails is a failed bench, not a quieter one
            failures.append(error)

    started = time.perf_counter()
    rss: list[list[float]] = []
    threads = [threading.Thread(target=client) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    mark = 0
    while any(thread.is_alive() for thread in threads):
        time.sleep(0.2)
        if len(done) >= mark:
            rss.append([len(done), round(server.rss_mb(), 1)])
            mark = len(done) + max(1, requests // 10)
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    rss.append([len(done), round(server.rss_mb(), 1)])
    return {
        "asked": [each for each in results if each is not None],
        "numbers": [number for number, each in enumerate(results) if each is not None],
        "seconds": time.perf_counter() - started,
        "rss": rss,
    }


def _growth(samples: list[list[float]], requests: int) -> float:
    """MB the server grew between the first sample past a fifth of the requests and the last."""
    after = [mb for count, mb in samples if count >= requests // 5]
    return after[-1] - after[0] if after else 0.0
