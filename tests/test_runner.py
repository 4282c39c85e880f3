"""`unembed run` / run_job: held-out MILS captions as MiniLM targets, inverted with `mutate` into Parquet shards."""

import os
import random
import re
import signal
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import InterruptingSpace
from unembed.cli import main
from unembed.errors import InputError, RunnerError
from unembed.index import build_bank, collect_captions
from unembed.inverter import TextEmbeddingCache, invert_many
from unembed.runner import PREDICTIONS, read_run, run_job

N = 12
SETTINGS = dict(generator="mutate", fluency=False, steps=2, requested=15, keep=10, batch_size=2)
FLAGS = ["--generator", "mutate", "--no-fluency", "--steps", "2", "--requested", "15", "--keep", "10", "--batch-size", "2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory, minilm):
    """A 600-caption bank file with the held-out targets in it (excluded at search time), the targets as Parquet."""
    folder = tmp_path_factory.mktemp("run")
    captions = collect_captions(["mils-image"])
    held_out = random.Random(3).sample(captions, N)
    (folder / "bank.txt").write_text("\n".join(random.Random(0).sample(captions, 600) + held_out) + "\n")
    (folder / "held_out.txt").write_text("\n".join(held_out) + "\n")
    vectors = minilm.embed_text(held_out)
    table = pa.table({"id": [f"t{i}" for i in range(N)], "vector": pa.array(list(vectors), pa.list_(pa.float32()))})
    pq.write_table(table, folder / "targets.parquet")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("UNEMBED_CACHE_DIR", str(folder / "cache"))  # the bank file's cached build stays in the test's folder
        yield {"folder": folder, "targets": folder / "targets.parquet", "bank": str(folder / "bank.txt"),
               "exclude": folder / "held_out.txt", "vectors": vectors, "held_out": held_out}


@pytest.fixture(scope="module")
def complete(data, minilm):
    """An uninterrupted in-process run, and its rows by id."""
    out = data["folder"] / "complete.parquet"
    report = run_job(data["targets"], out, space=minilm, bank=data["bank"], exclude=data["exclude"], **SETTINGS)
    return report, {row["id"]: row for row in read_run(out).to_pylist()}


def test_run_writes_one_row_per_target_with_the_schema(data, complete, minilm):
    report, rows = complete
    assert (report.total, report.inverted, report.failed) == (N, N, 0)
    table = pq.read_table(report.out)  # the folder reads as one table
    assert table.schema.equals(PREDICTIONS) and table.num_rows == N
    assert sorted(table.column("id").to_pylist()) == sorted(f"t{i}" for i in range(N))
    assert len(list(report.out.glob("part-*.parquet"))) == N // SETTINGS["batch_size"]
    for row in rows.values():
        assert row["error"] is None and row["text"] and row["steps"] >= 1 and row["llm_calls"] == 0
        assert row["score"] >= row["bootstrap_score"]
        assert row["bootstrap_text"] not in data["held_out"]  # --exclude kept the references out of the bootstrap
    assert sum(row["score"] > row["bootstrap_score"] + 1e-6 for row in rows.values()) >= N // 2

    again = run_job(data["targets"], report.out, space=minilm, bank=data["bank"], exclude=data["exclude"], **SETTINGS)
    assert (again.skipped, again.inverted) == (N, 0)
    assert pq.read_table(report.out).num_rows == N


def test_an_interrupted_run_resumes_to_the_same_output(data, complete, minilm, tmp_path):
    out = tmp_path / "out"
    # Real MiniLM that raises KeyboardInterrupt (as Ctrl-C) at its 6th encoder call: each batch of
    # 2 steps encodes twice, so two batches are written and the third is lost in flight.
    with pytest.raises(KeyboardInterrupt):
        run_job(data["targets"], out, space=InterruptingSpace(minilm, budget=5), bank=data["bank"], exclude=data["exclude"], **SETTINGS)
    assert len(read_run(out)) == 4
    resumed = run_job(data["targets"], out, space=minilm, bank=data["bank"], exclude=data["exclude"], **SETTINGS)
    assert (resumed.skipped, resumed.inverted) == (4, N - 4)
    assert _texts(out) == {key: row["text"] for key, row in complete[1].items()}


def test_a_failed_row_is_retried_and_replaced(data, complete, minilm, tmp_path):
    out = tmp_path / "out"
    run_job(data["targets"], out, space=minilm, bank=data["bank"], exclude=data["exclude"], **SETTINGS)
    # What a batch that raised leaves: a row with its error (the rest of the shard was fine).
    shard = out / "part-000001.parquet"
    rows = pq.read_table(shard).to_pylist()
    rows[0].update(text=None, score=None, error="GeneratorError: the server did not answer")
    pq.write_table(pa.Table.from_pylist(rows, schema=PREDICTIONS), shard)
    again = run_job(data["targets"], out, space=minilm, bank=data["bank"], exclude=data["exclude"], **SETTINGS)
    assert (again.skipped, again.inverted, again.failed) == (N - 1, 1, 0)
    table = read_run(out)
    assert table.num_rows == N and len(set(table.column("id").to_pylist())) == N
    assert _texts(out) == {key: row["text"] for key, row in complete[1].items()}


def test_resuming_with_other_settings_or_targets_is_refused(data, complete, minilm, tmp_path):
    out = complete[0].out
    with pytest.raises(RunnerError, match=r"another job \(.*steps: 2 then, 3 now.*new --out"):
        run_job(data["targets"], out, space=minilm, bank=data["bank"], exclude=data["exclude"], **{**SETTINGS, "steps": 3})
    with pytest.raises(RunnerError, match="exclude"):
        run_job(data["targets"], out, space=minilm, bank=data["bank"], **SETTINGS)
    other = tmp_path / "other.npy"
    np.save(other, data["vectors"][::-1])
    with pytest.raises(RunnerError, match="other targets"):
        run_job(other, out, space=minilm, bank=data["bank"], exclude=data["exclude"], **SETTINGS)
    assert pq.read_table(out).num_rows == N
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(RunnerError, match="holds other files"):
        run_job(data["targets"], stranger, space=minilm, bank=data["bank"], **SETTINGS)


def _table(where, **columns):
    pq.write_table(pa.table(columns), where)
    return where


@pytest.mark.parametrize("make, message", [
    (lambda d, v: _table(d / "t.parquet", name=["a"], vector=[list(v[0])]), "no 'id' column"),
    (lambda d, v: _table(d / "t.parquet", id=["a", "a"], vector=[list(v[0]), list(v[1])]), "duplicate id.*'a'"),
    (lambda d, v: _table(d / "t.parquet", id=["a"], vector=[[0.5] * 12]), "12-d but space 'minilm' makes 384-d"),
    (lambda d, v: _table(d / "t.parquet", id=pa.array([], pa.string()), vector=pa.array([], pa.list_(pa.float32()))), "no rows"),
    (lambda d, v: _table(d / "t.parquet", id=["a"], vector=[list(v[0])], path=["x.png"]), "exactly one of the columns"),
    (lambda d, v: (d / "t.parquet").write_bytes(b"PAR1 not really") and d / "t.parquet", "cannot read .* as Parquet"),
    (lambda d, v: (d / "t.jsonl").write_text('{"id": "a", "path": "missing.png"}\n') and d / "t.jsonl", "do not exist"),
    (lambda d, v: (d / "t.csv").write_text("id\n") and d / "t.csv", "not .npy, .parquet or .jsonl"),
    (lambda d, v: (d / "media").mkdir() or d / "media", "empty folder"),
    (lambda d, v: np.save(d / "t.npy", np.zeros((0, 384), np.float32)) or d / "t.npy", "no vectors"),
])
def test_bad_targets_stop_before_any_work(data, minilm, tmp_path, make, message):
    path = make(tmp_path, data["vectors"])
    with pytest.raises(InputError, match=message):
        run_job(path, tmp_path / "out", space=minilm, bank=data["bank"], **SETTINGS)
    assert not (tmp_path / "out").exists()


def test_bad_settings_and_exclude_file_stop_before_any_work(data, minilm, tmp_path):
    with pytest.raises(InputError, match="no such exclude file"):
        run_job(data["targets"], tmp_path / "out", space=minilm, exclude=tmp_path / "missing.txt", **SETTINGS)
    with pytest.raises(InputError, match="steps"):
        run_job(data["targets"], tmp_path / "out", space=minilm, **{**SETTINGS, "steps": -1})
    assert not (tmp_path / "out").exists()


def test_a_target_gets_the_same_proposals_in_any_batch(data, minilm):
    """The generator's seed comes from the target itself, not from its place in the batch."""
    options = dict(space=minilm, bank=data["bank"], generator="mutate", fluency=False, steps=2, requested=15, keep=10,
                   exclude=data["held_out"])
    together = invert_many(data["vectors"][:3], cache=TextEmbeddingCache(minilm), **options)[2]
    alone = invert_many(data["vectors"][2:3], cache=TextEmbeddingCache(minilm), **options)[0]
    assert [text for _, text in together.history[1].candidates] == [text for _, text in alone.history[1].candidates]
    assert together.text == alone.text


def test_cli_runs_a_npy_of_vectors(data, complete, tmp_path, capsys):
    np.save(tmp_path / "targets.npy", data["vectors"][:4])
    out = tmp_path / "predictions.parquet"
    assert main(["run", str(tmp_path / "targets.npy"), "--out", str(out), "--bank", data["bank"], "--exclude",
                 str(data["exclude"]), *FLAGS]) == 0
    assert "4 targets; 0 done before, 4 inverted now" in capsys.readouterr().out
    assert sorted(read_run(out).column("id").to_pylist()) == ["0", "1", "2", "3"]
    # Row numbers are the ids: the same vectors give the texts of the Parquet run.
    assert [_texts(out)[str(i)] for i in range(4)] == [complete[1][f"t{i}"]["text"] for i in range(4)]
    assert main(["run", str(tmp_path / "targets.npy"), "--out", str(out), "--bank", data["bank"], *FLAGS]) == 2
    assert "another job" in capsys.readouterr().err


def test_resuming_against_a_rebuilt_bank_is_refused(data, minilm, tmp_path, capsys):
    """A run is tied to its bank's content, not its path: rebuilt with other captions, it is another job."""
    captions = collect_captions([data["bank"]])
    bank = build_bank(texts=captions[:300], space=minilm, out=tmp_path / "bank")
    np.save(tmp_path / "targets.npy", data["vectors"][:2])
    out = tmp_path / "out"
    options = dict(space=minilm, bank=str(bank.path), **SETTINGS)
    assert run_job(tmp_path / "targets.npy", out, **options).inverted == 2
    build_bank(texts=captions[:300], space=minilm, out=bank.path, overwrite=True)  # the same captions: the same answers
    assert run_job(tmp_path / "targets.npy", out, **options).skipped == 2
    build_bank(texts=captions[300:], space=minilm, out=bank.path, overwrite=True)
    with pytest.raises(RunnerError, match=r"the bank '.*bank' is not the one it used: it was rebuilt or replaced.*new --out"):
        run_job(tmp_path / "targets.npy", out, **options)
    command = ["run", str(tmp_path / "targets.npy"), "--out", str(out), "--bank", str(bank.path), *FLAGS]
    assert main(command) == 2
    assert "rebuilt or replaced" in capsys.readouterr().err
    assert read_run(out).num_rows == 2
    # The fifth probe: another bank by name was said to be "rebuilt or replaced since", the default one as None.
    other = build_bank(texts=captions[300:], space=minilm, out=tmp_path / "other")
    with pytest.raises(RunnerError) as refused:
        run_job(tmp_path / "targets.npy", out, **{**options, "bank": str(other.path)})
    said = str(refused.value)
    assert f"bank: '{bank.path}' then, '{other.path}' now" in said and "rebuilt or replaced" not in said
    with pytest.raises(RunnerError, match=rf"bank: '{bank.path}' then, the space's caption bank now"):
        run_job(tmp_path / "targets.npy", out, **{**options, "bank": None})


def _unembed(*arguments):
    """`python -m unembed ...` started in a fresh interpreter; the test bounds its wait (communicate's timeout)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "unembed", *map(str, arguments)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)


@pytest.mark.slow
def test_two_runs_into_one_folder_do_each_target_once(data, tmp_path):
    """The second run of an --out waits for the first (`.OUT.lock`), then finds its targets done."""
    out = tmp_path / "out"
    command = ["run", data["targets"], "--out", out, "--bank", data["bank"], "--exclude", data["exclude"], *FLAGS]
    runs = [_unembed(*command) for _ in range(2)]
    try:
        ended = [run.communicate(timeout=600) for run in runs]
    finally:
        for run in runs:
            run.kill()
    assert [run.returncode for run in runs] == [0, 0], [stderr[-2000:] for _, stderr in ended]
    inverted = [int(re.search(r"(\d+) inverted now", stdout).group(1)) for stdout, _ in ended]
    assert sum(inverted) == N, f"both runs computed targets: {inverted}"
    ids = read_run(out).column("id").to_pylist()
    assert sorted(ids) == sorted(f"t{i}" for i in range(N))
    for (_, stderr), count in zip(ended, inverted, strict=True):
        if f"another run of {out} is running; waiting" in stderr:  # it started while the first held the folder
            assert count == 0


def test_an_unreachable_ray_address_stops_at_once(data, tmp_path, capsys):
    pytest.importorskip("ray")
    started = time.monotonic()
    command = ["run", str(data["targets"]), "--out", str(tmp_path / "out"), "--bank", data["bank"], "--ray", "127.0.0.1:1", *FLAGS]
    assert main(command) == 2
    error = capsys.readouterr().err
    assert "nothing answers at the Ray address 127.0.0.1:1" in error and "ray start --head" in error
    assert "Traceback" not in error and time.monotonic() - started < 60


@pytest.mark.slow
def test_a_gpu_that_no_node_has_stops_with_a_message(data, tmp_path):
    """Ray keeps an actor that asks for a missing GPU pending for ever; the run checks the nodes first."""
    pytest.importorskip("ray")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    run = _unembed("run", data["targets"], "--out", tmp_path / "out", "--bank", data["bank"], "--ray", "--gpus-per-worker", "1", *FLAGS)
    try:
        _, stderr = run.communicate(timeout=300)
    finally:
        run.kill()
    assert run.returncode == 2, stderr[-2000:]
    assert "asks for 1 CPU, 1 GPU, but no Ray node has that" in stderr and "GPU missing" in stderr
    assert "--gpus-per-worker 0" in stderr and "Traceback" not in stderr


@pytest.mark.slow
def test_workers_the_cluster_cannot_place_stop_at_the_deadline(data, minilm, tmp_path):
    """Each worker fits the node, two do not: the second would wait for ever, so the run stops at the deadline."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        started = time.monotonic()
        refused = r"[12] of 2 Ray worker\(s\) were not started within 20 s: each asks for 1 CPU.*--ray-start-timeout"
        with pytest.raises(RunnerError, match=refused):
            run_job(data["targets"], tmp_path / "out", space=minilm, bank=data["bank"], ray=True, workers=2, ray_start_timeout=20,
                    **SETTINGS)
        assert time.monotonic() - started < 120
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_run_survives_a_killed_worker(data, complete, tmp_path):
    """2 local Ray workers; one is killed with SIGKILL mid-run: still N rows, no duplicates, the in-process texts."""
    pytest.importorskip("ray")
    out, log = tmp_path / "ray.parquet", tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "unembed", "run", str(data["targets"]), "--out", str(out), "--bank", data["bank"],
               "--exclude", str(data["exclude"]), "--ray", "--workers", "2", *FLAGS]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    with open(log, "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env, text=True)
        try:
            pids = _wait_for(lambda: re.search(r"process ids (\d+), (\d+)", log.read_text()), process, "the workers")
            _wait_for(lambda: list(out.glob("part-*.parquet")), process, "the first shard")
            os.kill(int(pids.group(1)), signal.SIGKILL)
            stdout, _ = process.communicate(timeout=600)
        finally:
            process.kill()
    assert process.returncode == 0, log.read_text()[-3000:]
    assert f"{N} inverted now" in stdout
    table = read_run(out)
    assert table.num_rows == N and len(set(table.column("id").to_pylist())) == N
    assert _texts(out) == {key: row["text"] for key, row in complete[1].items()}


@pytest.mark.slow
def test_a_run_on_a_cluster_survives_a_lost_node(data, complete, tmp_path):
    """A real 3-node Ray cluster (`LocalCluster`: a head of 0 CPUs, two nodes of 1 CPU, each its own `ray start`),
    2 workers, one per node; once shards are written, one node is lost whole (SIGKILL of all its processes). The
    run goes on with the other: every target once, the in-process texts."""
    pytest.importorskip("ray")
    from unembed.bench.cluster import LocalCluster

    out, log = tmp_path / "out", tmp_path / "stderr.txt"
    with LocalCluster(workers=2) as cluster, open(log, "w") as stderr:
        command = [sys.executable, "-m", "unembed", "run", str(data["targets"]), "--out", str(out), "--bank", data["bank"],
                   "--exclude", str(data["exclude"]), "--ray", cluster.address, "--workers", "2", *FLAGS,
                   "--batch-size", "1"]  # many batches, so the lost node holds some; a row does not depend on its batch
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=_with_unembed(cluster.env), text=True,
                                   cwd=tmp_path)
        try:
            pids = _wait_for(lambda: re.search(r"process ids (\d+), (\d+)", log.read_text()), process, "the workers")
            _wait_for(lambda: list(out.glob("part-*.parquet")), process, "the first shard")
            # The driver is paused while the node dies, so the node dies with batches left to hand out, however fast
            # they run: the run has to find the loss.
            process.send_signal(signal.SIGSTOP)
            killed = cluster.kill_node("node_1")
            process.send_signal(signal.SIGCONT)
            stdout, _ = process.communicate(timeout=300)
        finally:
            process.kill()
    assert process.returncode == 0, log.read_text()[-3000:]
    assert [int(pid) in killed for pid in pids.groups()].count(True) == 1  # one worker went with its node
    assert "a Ray worker was lost" in log.read_text() and f"{N} inverted now" in stdout
    table = read_run(out)
    assert table.num_rows == N and len(set(table.column("id").to_pylist())) == N
    assert _texts(out) == {key: row["text"] for key, row in complete[1].items()}


@pytest.mark.slow
def test_a_cluster_node_without_unembed_stops_the_run_with_a_message(data, tmp_path):
    """A worker node whose Python has Ray but not unembed (a venv of this one's packages, unembed left out)."""
    pytest.importorskip("ray")
    from unembed.bench.cluster import LocalCluster

    bare = tmp_path / "bare"
    venv.EnvBuilder(with_pip=False).create(bare)
    site = Path(subprocess.check_output([bare / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():  # links, not .pth files: an editable install is one
        if not entry.name.startswith(("unembed", "__editable__")) and entry.suffix != ".pth":
            (site / entry.name).symlink_to(entry)
    with LocalCluster(workers=1, python=str(bare / "bin" / "python"), env={"PYTHONPATH": ""}) as cluster:
        command = [sys.executable, "-m", "unembed", "run", str(data["targets"]), "--out", str(tmp_path / "out"), "--bank",
                   data["bank"], "--ray", cluster.address, *FLAGS]
        ended = subprocess.run(command, capture_output=True, text=True, env=_with_unembed(cluster.env), cwd=tmp_path, timeout=300)
    assert ended.returncode == 2, ended.stderr[-3000:]
    assert "A Ray node cannot import unembed: install unembed" in ended.stderr and "Traceback" not in ended.stderr


def _with_unembed(env):
    """`env` for a driver that imports this checkout's unembed (the nodes' own environment is left as it is)."""
    return {**env, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}


def _wait_for(condition, process, what, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        assert process.poll() is None, f"the run ended before {what}"
        time.sleep(0.2)
    raise AssertionError(f"no {what} after {timeout} s")


def _texts(out) -> dict[str, str]:
    return {row["id"]: row["text"] for row in read_run(out).to_pylist()}


def test_an_exclude_list_that_empties_the_bank_stops_before_any_work(data, minilm, tmp_path):
    """The probe: every row failed with "no text to start from", exit 3, and "run it again to retry" (it cannot help)."""
    with pytest.raises(InputError, match="--exclude names every one of the bank's"):
        run_job(data["targets"], tmp_path / "out", space=minilm, bank=data["bank"], exclude=data["bank"], **SETTINGS)
    assert not (tmp_path / "out").exists()


def test_ray_options_without_ray_are_refused_not_ignored(tmp_path, capsys):
    """The probe: `run ... --workers 5` without --ray ran in this process, one batch at a time, without a word. Every
    option only Ray reads needs --ray, in `run` and in `bank build` (cli.options.ray_options)."""
    np.save(tmp_path / "t.npy", np.ones((2, 384), np.float32))
    (tmp_path / "captions.txt").write_text("a dog on a beach\na red car\n")
    commands = [
        ["run", str(tmp_path / "t.npy"), "--out", str(tmp_path / "run"), "--workers", "5"],
        ["run", str(tmp_path / "t.npy"), "--out", str(tmp_path / "run"), "--cpus-per-worker", "2", "--ray-start-timeout", "30"],
        ["bank", "build", "--from", str(tmp_path / "captions.txt"), "--out", str(tmp_path / "bank"), "--gpus-per-worker", "1"],
    ]
    for command, said in zip(commands, ["--workers 5 needs --ray", "--cpus-per-worker 2, --ray-start-timeout 30 need --ray",
                                        "--gpus-per-worker 1 needs --ray"], strict=True):
        assert main(command) == 2
        error = capsys.readouterr().err
        assert said in error and "Add --ray" in error and "Traceback" not in error
    assert not (tmp_path / "run").exists() and not (tmp_path / "bank").exists()


@pytest.mark.parametrize(("options", "said"), [
    (["--gpus-per-worker", "-1"], "--gpus-per-worker must be 0, a fraction from 0.0001 to 1, or a whole number up to 10,000"),
    (["--gpus-per-worker", "nan"], "--gpus-per-worker must be a finite number"),
    (["--cpus-per-worker", "-1"], "--cpus-per-worker must be a fraction from 0.0001 to 1, or a whole number"),
    (["--cpus-per-worker", "0"], "--cpus-per-worker must be a fraction"),
    (["--cpus-per-worker", "1.5"], "got 1.5"),
    (["--gpus-per-worker", "1e308"], "a whole number up to 10,000"),
    (["--workers", "0"], "--workers (Ray workers) must be at least 1"),
    (["--ray-start-timeout", "inf"], "--ray-start-timeout must be a positive number of seconds"),
    (["--workers", str(4 * (os.cpu_count() or 1))], "and the local Ray started here has this machine's"),
])  # fmt: skip
def test_ray_settings_ray_cannot_take_are_refused_before_any_model_loads(tmp_path, capsys, options, said):
    """The probe: a negative or NaN --cpus-per-worker or --gpus-per-worker ended in Ray's traceback; --cpus-per-worker 64
    started a local Ray claiming 64 CPUs on a 2-core machine without a word. Same check for run and bank build."""
    np.save(tmp_path / "t.npy", np.ones((2, 384), np.float32))
    (tmp_path / "captions.txt").write_text("a dog on a beach\na red car\n")
    for command in (["run", str(tmp_path / "t.npy"), "--out", str(tmp_path / "run")],
                    ["bank", "build", "--from", str(tmp_path / "captions.txt"), "--out", str(tmp_path / "bank")]):
        assert main([*command, "--ray", *options]) == 2
        error = capsys.readouterr().err
        assert said in error and "Traceback" not in error and "Loading" not in error, error
    assert not (tmp_path / "run").exists() and not (tmp_path / "bank").exists()


@pytest.mark.parametrize("where", ["targets", "path column", "exclude"])
def test_a_fifo_given_to_run_is_named_as_not_a_regular_file(tmp_path, capsys, where):
    """The probe: a FIFO named in the `path` column was one of the "media file(s) ... [that] do not exist", and
    `--exclude FIFO` "no such exclude file". Neither is missing: each is refused as not a regular file, before any work."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    np.save(tmp_path / "t.npy", np.ones((2, 384), np.float32))
    (tmp_path / "targets.jsonl").write_text('{"id": "a", "path": "fifo"}\n')
    targets = {"targets": fifo, "path column": tmp_path / "targets.jsonl", "exclude": tmp_path / "t.npy"}[where]
    exclude = ["--exclude", str(fifo)] if where == "exclude" else []
    assert main(["run", str(targets), "--out", str(tmp_path / "out"), *exclude, *FLAGS]) == 2
    error = capsys.readouterr().err
    assert f"'{fifo}' is not a regular file" in error and "do not exist" not in error and "no such" not in error, error
    assert not (tmp_path / "out").exists()
