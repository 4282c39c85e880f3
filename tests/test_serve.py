"""unembed serve: its job queue, its uploads' limits, and its API with MiniBind (through FastAPI's test client)."""

import asyncio
import json
import threading
import time

import numpy as np
import pytest
from PIL import Image, ImageDraw

from unembed.errors import InputError, UnembedError
from unembed.inverter import invert_many
from unembed.serve import Limits, ServeSettings, create_app, is_local
from unembed.serve.jobs import Busy, JobQueue, JobTimeout
from unembed.spaces import TextEmbeddingCache

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402


def run_queue(queue, works, then=lambda: None):
    """Submit each work to `queue` from one event loop, call `then`; every job's events, in order, once all have ended.

    Every job has ended when this returns, so no worker is still writing a traceback to the log while the next test
    runs (Python 3.11's parser is not safe to use from two threads at once, and logging a traceback parses source).
    """

    async def main():
        loop = asyncio.get_running_loop()
        jobs = [queue.submit(work, loop) for work in works]
        then()
        streams = []
        for job in jobs:
            events = []
            while not events or events[-1]["type"] not in ("result", "error", "cancelled"):
                events.append(await asyncio.wait_for(job.events.get(), 30))
            streams.append(events)
        return streams

    return asyncio.run(main())


def test_queue_runs_jobs_in_order_one_at_a_time_and_tells_each_its_place():
    queue, running, most = JobQueue(workers=1, waiting=8), [], []
    gate = threading.Event()

    def work(number):
        def run(job):
            running.append(number)
            most.append(len(running))
            if number == 0:
                gate.wait(10)  # the others queue up behind it
            running.remove(number)
            return {"type": "result", "number": number}

        return run

    streams = run_queue(queue, [work(n) for n in range(3)], then=gate.set)  # all three are in line before the first ends
    assert [events[-1]["number"] for events in streams] == [0, 1, 2]
    assert max(most) == 1
    third = [event["position"] for event in streams[2] if event["type"] == "queued"]
    assert third[0] >= 2 and third[-1] == 1  # it moved up the line as the jobs before it started


def test_queue_is_bounded_and_a_failing_job_leaves_the_worker_serving():
    queue = JobQueue(workers=1, waiting=1)
    gate = threading.Event()

    async def main():
        loop = asyncio.get_running_loop()
        first = queue.submit(lambda job: gate.wait(10) and {"type": "result"}, loop)
        while queue.running == 0:  # the worker has taken the first job
            await asyncio.sleep(0.01)
        failing = queue.submit(lambda job: 1 / 0, loop)
        with pytest.raises(Busy, match="busy"):
            queue.submit(lambda job: {"type": "result"}, loop)
        gate.set()
        ends = []
        for job in (first, failing):
            event = {"type": ""}
            while event["type"] not in ("result", "error"):
                event = await asyncio.wait_for(job.events.get(), 10)
            ends.append(event["type"])
        return ends

    assert asyncio.run(main()) == ["result", "error"]
    [events] = run_queue(queue, [lambda job: {"type": "result", "ok": True}])
    assert events[-1]["ok"] is True


def test_a_failing_job_reports_an_internal_error_without_a_traceback():
    [events] = run_queue(JobQueue(), [lambda job: {}["missing"]])
    assert events[-1]["type"] == "error"
    assert "internal error (KeyError" in events[-1]["message"] and "Traceback" not in events[-1]["message"]


def test_withdrawn_jobs_stop_waiting_or_stop_at_their_next_check():
    queue, cleaned, checks = JobQueue(workers=1, waiting=4), [], []

    def slow(job):
        for _ in range(200):
            job.check()
            checks.append(1)
            time.sleep(0.01)
        return {"type": "result"}

    async def main():
        loop = asyncio.get_running_loop()
        running = queue.submit(slow, loop, cleanup=lambda: cleaned.append("running"))
        waiting = queue.submit(slow, loop, cleanup=lambda: cleaned.append("waiting"))
        while not running.started:
            await asyncio.sleep(0.01)
        queue.withdraw(waiting)
        queue.withdraw(running)
        ends = []
        for job in (running, waiting):
            event = {"type": ""}
            while event["type"] not in ("result", "error", "cancelled"):
                event = await asyncio.wait_for(job.events.get(), 10)
            ends.append(event)
        return ends

    ends = asyncio.run(main())
    assert [event["type"] for event in ends] == ["cancelled", "cancelled"]
    assert len(checks) < 200  # stopped at a check, not after all its work
    assert sorted(cleaned) == ["running", "waiting"]


def test_a_job_past_its_deadline_is_stopped_with_the_limit_named():
    def slow(job):
        while True:
            job.check()
            time.sleep(0.01)

    [events] = run_queue(JobQueue(deadline=0.2), [slow])
    assert events[-1]["type"] == "error" and "0.2 s" in events[-1]["message"] and "--timeout" in events[-1]["message"]
    assert issubclass(JobTimeout, UnembedError)  # a message for the page, not a traceback


def test_closing_the_queue_stops_running_and_waiting_jobs():
    queue = JobQueue(workers=1, waiting=4)

    def endless(job):
        while True:
            job.check()
            time.sleep(0.01)

    async def main():
        loop = asyncio.get_running_loop()
        jobs = [queue.submit(endless, loop) for _ in range(2)]
        while queue.running == 0:
            await asyncio.sleep(0.01)
        queue.close()
        ends = []
        for job in jobs:
            event = {"type": ""}
            while event["type"] not in ("result", "error", "cancelled"):
                event = await asyncio.wait_for(job.events.get(), 10)
            ends.append(event["type"])
        return ends

    assert asyncio.run(main()) == ["cancelled", "cancelled"]
    assert queue.full


def test_is_local():
    assert is_local("127.0.0.1") and is_local("localhost") and is_local("::1") and is_local("127.0.0.2")
    assert not is_local("0.0.0.0") and not is_local("192.168.1.5") and not is_local("example.org")


def test_a_bounded_cache_drops_its_oldest_texts(minilm):
    cache = TextEmbeddingCache(minilm, limit=2)
    first = cache.embed(["a dog", "a cat"])
    cache.embed(["a bird"])
    assert len(cache) == 2 and "a dog" not in cache._vectors
    np.testing.assert_allclose(cache.embed(["a cat", "a dog"]), first[::-1], atol=1e-6)
    with pytest.raises(InputError, match="limit"):
        TextEmbeddingCache(minilm, limit=0)


def test_on_step_sees_every_step_and_can_stop_the_loop(minilm):
    target = minilm.embed_text(["a dog running on the beach"])
    bank = ["a dog on a beach", "a cat on a sofa", "a child running", "waves on the sand"]
    seen = []
    invert_many(target, space=minilm, bank=_bank(minilm, bank), generator="mutate", steps=3, keep=2, patience=None,
                on_step=lambda step, records: seen.append((step, records[0].admitted)))
    assert [step for step, _ in seen] == [0, 1, 2, 3]
    assert len(seen[0][1]) == 2  # the bootstrap's kept candidates

    def stop(step, records):
        if step == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        invert_many(target, space=minilm, bank=_bank(minilm, bank), generator="mutate", steps=3, on_step=stop)


def _bank(space, texts):
    from unembed.index import Bank

    return Bank.from_texts(texts, space)


# The API, with MiniBind: the page's requests, answered by the app in this process.


@pytest.fixture(scope="module")
def client():
    limits = Limits(upload_bytes=300_000, pixels=1_000_000, audio_samples=100_000, texts=4, text_chars=200)
    settings = ServeSettings(spaces=("minibind",), merge_generator="mutate", limits=limits)
    with TestClient(create_app(settings), base_url="http://127.0.0.1:7860") as test_client:
        yield test_client


def events_of(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def red_circle(path, size=64):
    image = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(image).ellipse((size // 4, size // 4, 3 * size // 4, 3 * size // 4), fill=(220, 20, 20))
    image.save(path)
    return path


def test_the_pages_load_nothing_from_elsewhere_and_name_their_controls(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "<button type=\"submit\">Invert</button>" in page.text
    assert '<label for="file">Image, sound or .npy vector</label>' in page.text
    assert "http" not in page.text.replace('href="/', "")  # no CDN, no font or script from another host
    for path, button in (("/arith", "Combine"), ("/explain", "Explain")):
        assert f'<button type="submit">{button}</button>' in client.get(path).text
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/..%2Fapp.py").status_code == 404


def test_inverting_a_red_circle_streams_each_step_then_the_answer(client, tmp_path):
    events = events_of(client.post("/api/invert", files={"file": ("circle.png", red_circle(tmp_path / "c.png").read_bytes())}))
    kinds = [event["type"] for event in events]
    assert kinds[:3] == ["queued", "started", "input"] and kinds[-1] == "result"
    steps = [event for event in events if event["type"] == "step"]
    assert steps[0]["step"] == 0 and len(steps) >= 2
    answer = events[-1]
    assert "red" in answer["text"] and "circle" in answer["text"]
    assert json.loads(answer["json"])["text"] == answer["text"]  # the file `unembed invert --json` writes


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("wide.npy", "vector10", "dimension 10"),
        ("nan.npy", "nan", "NaN"),
        ("noise.wav", b"RIFF not a sound", "not a sound"),
        ("big.png", "big", "megapixels"),
        ("slow.wav", "1hz", "1 Hz"),
        ("fast.wav", "2**31-1 Hz", "'fast.wav' is sampled at 2,147,483,647 Hz; this server takes 4,000-192,000 Hz"),
        ("click.wav", "1 sample", "'click.wav' holds only 1 sample; this server needs at least 1 ms"),
        ("notes", b"hello", "no extension"),
        ("surround.wav", "8ch", "8 channels"),
        ("drawing.png", "gif", "not a PNG image"),
        ("empty.png", b"", "empty"),
        ("bomb.png", "100000 x 100000", "'bomb.png' claims 10,000,000,000 pixels in its header, more than this server's limit"),
    ],
)
def test_bad_uploads_get_a_message_and_the_server_goes_on(client, tmp_path, name, content, message):
    import io

    import soundfile

    if content == "vector10":
        buffer = io.BytesIO()
        np.save(buffer, np.ones(10, np.float32))
        content = buffer.getvalue()
    elif content == "nan":
        buffer = io.BytesIO()
        np.save(buffer, np.full(384, np.nan, np.float32))
        content = buffer.getvalue()
    elif content == "big":
        buffer = io.BytesIO()
        Image.new("RGB", (1200, 1000), "white").save(buffer, format="PNG")
        content = buffer.getvalue()
    elif content == "8ch":
        buffer = io.BytesIO()
        soundfile.write(buffer, np.zeros((16_000, 8), np.float32), 16_000, format="WAV")
        content = buffer.getvalue()
    elif content == "gif":
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), "white").save(buffer, format="GIF")
        content = buffer.getvalue()
    elif content == "1hz":
        buffer = io.BytesIO()
        soundfile.write(buffer, np.zeros(16, np.float32), 1, format="WAV")
        content = buffer.getvalue()
    elif content in ("2**31-1 Hz", "1 sample"):
        buffer = io.BytesIO()
        soundfile.write(buffer, np.zeros(16_000 if content == "2**31-1 Hz" else 1, np.float32), 16_000, format="WAV")
        wav = bytearray(buffer.getvalue())
        if content == "2**31-1 Hz":
            wav[24:28] = (2**31 - 1).to_bytes(4, "little")  # the rate the WAV header gives
        content = bytes(wav)
    elif content == "100000 x 100000":  # a PNG header alone, past twice PIL's limit: PIL calls it a decompression bomb
        import struct
        import zlib

        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        content = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)) + chunk(b"IEND", b"")
    events = events_of(client.post("/api/invert", files={"file": (name, content)}))
    assert events[-1]["type"] == "error" and message in events[-1]["message"]
    assert "not a PNG" not in events[-1]["message"] or name != "bomb.png"
    assert "Traceback" not in events[-1]["message"] and "/tmp/" not in events[-1]["message"]
    assert client.post("/api/invert", data={"text": "a blue square"}).status_code == 200  # still serving


def test_limits_and_choices_are_the_servers(client, tmp_path):
    too_big = client.post("/api/invert", files={"file": ("huge.png", b"0" * 600_000)})  # refused by its Content-Length
    assert too_big.status_code == 413 and "upload limit" in too_big.json()["message"]
    [*_, last] = events_of(client.post("/api/invert", files={"file": ("huge.png", b"0" * 350_000)}))  # by the copy's count
    assert last["type"] == "error" and "upload limit of 0.286 MB" in last["message"]
    for field, value in (("space", "st:/etc"), ("bank", "/etc/passwd"), ("generator", "llama.cpp:/tmp/x.gguf")):
        [*_, last] = events_of(client.post("/api/invert", data={"text": "a red circle", field: value}))
        assert last["type"] == "error" and "does not offer" in last["message"]
    [*_, last] = events_of(client.post("/api/invert", data={"text": "a red circle", "steps": "1000"}))
    assert "between 0 and 30" in last["message"]
    [*_, last] = events_of(client.post("/api/invert", data={}))
    assert "give one thing to invert" in last["message"]
    [*_, last] = events_of(client.post("/api/invert", data={"text": "a red circle " * 20}))
    assert "at most 200" in last["message"]
    [*_, last] = events_of(client.post("/api/explain", data={"positive-texts": "red\n" * 5}))
    assert "at most 4" in last["message"]


def test_other_sites_and_other_host_names_are_refused(client):
    """A page elsewhere may not send jobs (Origin), nor reach the server through a DNS name that points here (Host)."""
    sent = client.post("/api/invert", data={"text": "a red circle"}, headers={"Origin": "http://evil.example"})
    assert sent.status_code == 403 and "another site" in sent.json()["message"]
    assert client.post("/api/invert", data={"text": "a red circle"}, headers={"Origin": "http://127.0.0.1:7860"}).status_code == 200
    rebound = client.get("/api/options", headers={"Host": "evil.example:7860"})
    assert rebound.status_code == 403 and "this machine only" in rebound.json()["message"]
    assert client.get("/api/options", headers={"Host": "localhost:7860"}).status_code == 200


def test_embedding_mode_answers_where_the_merging_llm_cannot_load(tmp_path):
    settings = ServeSettings(spaces=("minibind",), merge_generator=f"llama.cpp:{tmp_path / 'missing.gguf'}")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as test_client:
        events = events_of(test_client.post("/api/arith", data={"term-0-weight": "1", "term-0-text": "a red circle"}))
    modes = {event["mode"]: event for event in events if event["type"] == "mode"}
    assert "red" in modes["embedding"]["text"] and "missing.gguf" in modes["text"]["error"]


def test_arithmetic_answers_in_both_modes_with_a_picture_each(client, tmp_path):
    fields = {"term-0-weight": "1", "term-1-weight": "-1", "term-1-text": "red", "term-2-weight": "1", "term-2-text": "blue"}
    events = events_of(client.post("/api/arith", data=fields, files={"term-0-file": ("c.png", red_circle(tmp_path / "c.png").read_bytes())}))
    modes = {event["mode"]: event for event in events if event["type"] == "mode"}
    assert set(modes) == {"embedding", "text"} and events[-1]["type"] == "result"
    for event in modes.values():
        assert event["picture"].startswith("data:image/png;base64,") and "circle" in event["text"]
    assert "blue" in modes["embedding"]["text"]
    [*_, last] = events_of(client.post("/api/arith", data={}))
    assert "combination is empty" in last["message"]


def test_explain_names_what_a_group_of_pictures_shares(client, tmp_path):
    pictures = [("a.png", red_circle(tmp_path / "a.png").read_bytes()), ("b.png", red_circle(tmp_path / "b.png", 96).read_bytes())]
    events = events_of(client.post("/api/explain", files=[("positive", picture) for picture in pictures], data={"negative-texts": "a blue circle"}))
    result = events[-1]
    assert result["type"] == "result" and "red" in result["text"]
    assert result["bank_texts"] and result["lift"] >= 0


@pytest.mark.parametrize(
    "options, message",
    [
        (["--timeout", "inf"], "--timeout must be a positive number of seconds; got inf"),
        (["--timeout", "1e7"], "--timeout must be at most 1e+06 s"),
        (["--max-steps", "100000"], "--max-steps must be at most 10000; got 100000"),
        (["--queue", "0"], "--queue must be at least 1; got 0"),
        (["--max-upload-mb", "inf"], "--max-upload-mb must be a finite number"),
    ],
)
def test_serve_settings_get_the_checks_of_every_command(options, message, capsys, monkeypatch):
    """The probe: `serve --timeout inf` and `serve --max-steps 100000` started."""
    import unembed.cli.serve as command
    from unembed.cli import main

    monkeypatch.setattr(command, "serve", lambda *args, **kwargs: pytest.fail("the server started"))
    assert main(["serve", *options]) == 2
    assert message in capsys.readouterr().err
    with pytest.raises(InputError, match="max_steps must be at most 10000"):
        ServeSettings(max_steps=100_000)
    with pytest.raises(InputError, match="timeout must be a positive number of seconds"):
        ServeSettings(timeout=float("inf"))


def test_a_bank_offered_that_does_not_load_stops_the_server_at_start_up(tmp_path, capsys, monkeypatch):
    """The probe: `serve --space minilm --bank /nonexistent/bank` started and offered that bank."""
    import uvicorn

    from unembed.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, *args, **kwargs: pytest.fail("the server started"))
    assert main(["serve", "--space", "minibind", "--bank", str(tmp_path / "nonexistent" / "bank")]) == 2
    assert "nonexistent/bank' is neither a file nor a named source" in capsys.readouterr().err
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "manifest.json").write_text("{}", encoding="utf-8")
    assert main(["serve", "--space", "minibind", "--bank", str(tmp_path / "damaged")]) == 2
    assert "damaged/manifest.json lacks count" in capsys.readouterr().err  # load_bank's own message


def test_ctrl_c_on_the_server_says_it_stopped_not_how_to_resume(capsys, monkeypatch):
    """The probe: Ctrl-C on `unembed serve` said "Run the same command again to resume where it stopped"."""
    import unembed.cli.serve as command
    from unembed.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "serve", interrupted)
    assert main(["serve"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "unembed: interrupted; stopped." and "resume" not in err


def test_a_port_another_program_holds_or_a_host_that_is_none_is_refused_before_ready(capsys):
    """The probe: `serve --port P` with P taken printed "ready: http://127.0.0.1:P/" (another program's page), then
    uvicorn's "address already in use" and exit 3; `--host 999.1.1.1` the same."""
    import socket

    from unembed.cli import main

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert main(["serve", "--space", "minibind", "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert f"cannot serve on 127.0.0.1:{port}" in err and "Another program holds that port" in err and "ready:" not in err
    assert main(["serve", "--space", "minibind", "--host", "999.1.1.1"]) == 2
    err = capsys.readouterr().err
    assert "--host '999.1.1.1' is not an address of this machine" in err and "ready:" not in err
