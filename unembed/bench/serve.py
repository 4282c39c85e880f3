"""`unembed bench serve` (`run_serve`): the web app under load, against the same inversions run in-process.

MiniBind pictures of known scenes (sampled with the seed, drawn, saved as PNG) are inverted three ways:
1. in-process with `unembed.invert` and the server's settings, one at a time: the baseline, and each picture's
   expected answer;
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
from pathlib import Path

import numpy as np
from PIL import Image

from .. import checks
from ..index import resolve_bank
from ..inverter import invert
from ..minibind import world
from ..serve import ServeSettings
from ..serve.client import local_server, run_job
from ..spaces import TextEmbeddingCache, load_space


def run_serve(*, sessions: int = 20, requests: int = 200, workers: int = 1, seed: int = 0) -> dict:
    """The report: in-process and served latency (p50/p95), answers per client, server memory over the requests."""
    sessions, requests, workers = checks.count(sessions, "sessions"), checks.count(requests, "requests"), checks.count(workers, "workers")
    rng = np.random.default_rng(seed)
    scenes = world.sample_scenes("image", sessions, rng, held_out=False)
    with tempfile.TemporaryDirectory(prefix="unembed-bench-serve-") as folder:
        pictures = []
        for index, scene in enumerate(scenes):
            path = Path(folder) / f"picture-{index}.png"
            Image.fromarray(world.render_image(scene, rng)).save(path)
            pictures.append(path)
        expected, direct_seconds = _in_process(pictures, seed)
        options = ["--space", "minibind", "--workers", str(workers), "--queue", str(max(sessions, 32))]
        with local_server(*options) as server:
            _ask(server.url, pictures[0], seed)  # warm: the first job builds the edit generator's grammar
            rss_warm = server.rss_mb()
            with ThreadPoolExecutor(sessions) as pool:
                concurrent = list(pool.map(lambda path: _ask(server.url, path, seed), pictures))
            loop = _loop(server, pictures, requests, sessions, seed)
    answers = [answer for answer, _, _ in concurrent]
    served = [seconds for _, seconds, _ in loop["results"]]
    direct_p50 = float(np.percentile(direct_seconds, 50))
    return {
        "bench": "serve",
        "space": "minibind",
        "generator": "edit (the space's default)",
        "seed": seed,
        "workers": workers,
        "sessions": sessions,
        "requests": requests,
        "baseline": "the same pictures inverted in-process with unembed.invert, one at a time, the server's settings",
        "in_process_p50_seconds": round(direct_p50, 4),
        "concurrent": {
            "finished": sum(answer is not None for answer in answers),
            "own_answers": sum(answer == mine for answer, mine in zip(answers, expected, strict=True)),
            "right_scene": sum(
                answer is not None and world.matches(world.parse_text(answer, "image"), scene)
                for answer, scene in zip(answers, scenes, strict=True)
            ),
            "in_process_right_scene": sum(
                world.matches(world.parse_text(text, "image"), scene) for text, scene in zip(expected, scenes, strict=True)
            ),
            "p50_seconds": round(float(np.percentile([seconds for _, seconds, _ in concurrent], 50)), 4),
            "p95_seconds": round(float(np.percentile([seconds for _, seconds, _ in concurrent], 95)), 4),
            "longest_line": max(line for _, _, line in concurrent),
        },
        "load": {
            "finished": sum(answer is not None for answer, _, _ in loop["results"]),
            "own_answers": sum(answer == expected[index] for (answer, _, _), index in zip(loop["results"], loop["pictures"], strict=True)),
            "p50_seconds": round(float(np.percentile(served, 50)), 4),
            "p95_seconds": round(float(np.percentile(served, 95)), 4),
            "p50_ratio_to_in_process": round(float(np.percentile(served, 50)) / direct_p50, 2),
            "requests_per_second": round(requests / loop["seconds"], 2),
        },
        "rss_mb": {
            "warm": round(rss_warm, 1),
            "samples": loop["rss"],  # [requests finished, MB]
            "growth_after_first_fifth": round(_growth(loop["rss"], requests), 1),
        },
    }


def _in_process(pictures: list[Path], seed: int) -> tuple[list[str], list[float]]:
    """Each picture's answer and seconds, inverted as the server's jobs invert (its settings, a bounded shared cache)."""
    space = load_space("minibind")
    bank = resolve_bank(None, space, "image")
    cache = TextEmbeddingCache(space, limit=ServeSettings().cached_texts)
    invert(space.embed("image", [pictures[0]])[0], space=space, bank=bank, cache=cache, modality="image", seed=seed)  # warm
    answers, seconds = [], []
    for path in pictures:
        started = time.perf_counter()
        result = invert(space.embed("image", [path])[0], space=space, bank=bank, cache=cache, modality="image", seed=seed)
        seconds.append(time.perf_counter() - started)
        answers.append(result.text)
    return answers, seconds


def _ask(url: str, picture: Path, seed: int) -> tuple[str | None, float, int]:
    """(the answer or None, seconds, the longest line it waited in)."""
    started = time.perf_counter()
    events = run_job(url, "invert", files={"file": picture}, fields={"seed": str(seed)})
    seconds = time.perf_counter() - started
    line = max((event["position"] for event in events if event["type"] == "queued"), default=0)
    return (events[-1]["text"] if events[-1]["type"] == "result" else None), seconds, line


def _loop(server, pictures: list[Path], requests: int, sessions: int, seed: int) -> dict:
    """`requests` requests from `sessions` clients, each asking again as soon as it has its answer."""
    taken, lock = iter(range(requests)), threading.Lock()
    results: list[tuple[str | None, float, int] | None] = [None] * requests
    done: list[int] = []

    def client() -> None:
        while True:
            with lock:
                number = next(taken, None)
            if number is None:
                return
            results[number] = _ask(server.url, pictures[number % len(pictures)], seed)
            with lock:
                done.append(number)

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
    rss.append([len(done), round(server.rss_mb(), 1)])
    finished = [each for each in results if each is not None]
    return {
        "results": finished,
        "pictures": [number % len(pictures) for number, each in enumerate(results) if each is not None],
        "seconds": time.perf_counter() - started,
        "rss": rss,
    }


def _growth(samples: list[list[float]], requests: int) -> float:
    """MB the server grew between the first sample past a fifth of the requests and the last."""
    after = [mb for count, mb in samples if count >= requests // 5]
    return after[-1] - after[0] if after else 0.0
