"""The OpenAI-compatible generator against a real fake server on 127.0.0.1: errors, garbage, hangs, redirects,
and hostile servers (trickling, endless, oversized or compressed answers)."""

import os
import threading
import time
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from unembed.cli import main
from unembed.errors import GeneratorError
from unembed.generators import ProposalRequest, openai_compat
from unembed.generators.openai_compat import OpenAIGenerator

SECRET = "sk-test-secret-0123456789"
GUARD = 30.0  # seconds a call against a hostile server may take before the test calls it hung (a trickle lasts 120 s)


def request(requested=5, max_words=10, seed=0):
    template = "Write {requested} new short image descriptions of at most 10 words.\n0.700: a dog on a beach\n"
    return ProposalRequest(template=template, candidates=[(0.7, "a dog on a beach")], neighbours=[],
                           requested=requested, max_words=max_words, seed=seed)


@pytest.fixture()
def caption_file(tmp_path, image_captions, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("UNEMBED_CACHE_DIR", raising=False)
    source = tmp_path / "captions.txt"
    source.write_text("\n".join(image_captions[:60]), encoding="utf-8")
    return source


def test_the_api_key_never_follows_a_redirect_to_another_host(monkeypatch):
    """Defect 4: urllib sent `Authorization` to whatever host a 302 named."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAI("ok") as elsewhere, FakeOpenAI("redirect", models_mode="redirect") as first:
        first.redirect_to = elsewhere.url
        generator = OpenAIGenerator("fake", first.url, api_key=SECRET, retries=0, timeout=5)
        generator.propose([request()])
        assert first.requests and all(r["headers"].get("authorization") == f"Bearer {SECRET}" for r in first.requests)
        assert elsewhere.requests, "the redirect was followed (the test would prove nothing otherwise)"
        for seen in elsewhere.requests:
            assert SECRET not in str(seen), "the key reached another host"


@pytest.mark.parametrize("mode", ["500", "garbage", "empty"])
def test_a_failing_generator_is_an_error_on_the_cli(caption_file, mode, capsys):
    """Defect 5: server errors, empty choices or garbage JSON ended in exit 0 and the bank's caption as answer."""
    with FakeOpenAI(mode) as server:  # backoff=0.05: the retries' pauses are not what is tested
        code = main(["invert", "--text", "a dog running on a sandy beach", "--space", "minilm", "--bank", str(caption_file),
                     "--generator", f"openai:fake@{server.url},backoff=0.05", "--steps", "1", "--requested", "5", "--keep", "5",
                     "--patience", "0"])
    captured = capsys.readouterr()
    assert code == 3
    assert "generator" in captured.err and "failed" in captured.err and "caption bank" in captured.err


def test_a_fallback_that_produced_the_texts_is_said_and_succeeds(caption_file, capsys):
    with FakeOpenAI("500") as server:
        code = main(["invert", "--text", "a dog running on a sandy beach", "--space", "minilm", "--bank", str(caption_file),
                     "--generator", f"openai:fake@{server.url},backoff=0.05", "--fallback", "mutate", "--no-fluency",
                     "--steps", "1", "--requested", "5", "--keep", "5"])
    captured = capsys.readouterr()
    assert code == 0
    assert "fallback mutate" in captured.err and "1 of 1 step" in captured.err


def test_a_hung_server_costs_one_timeout_per_step_not_three(caption_file, capsys):
    """Defect 6: a hung server cost 3 tries x 120 s per step, with no CLI timeout and nothing printed."""
    with FakeOpenAI("hang") as server:
        code = main(["invert", "--text", "a dog on a beach", "--space", "minilm", "--bank", str(caption_file),
                     "--generator", f"openai:fake@{server.url}", "--timeout", "0.5", "--steps", "2",
                     "--requested", "5", "--keep", "5", "--patience", "0"])
        chats = [r for r in server.requests if r["path"].endswith("/chat/completions")]
    captured = capsys.readouterr()
    assert code == 3 and "timed out" in captured.err
    assert len(chats) == 2, "one try per step: the step's time budget was spent by the first"


def test_answers_are_capped_at_what_was_asked():
    with FakeOpenAI("ok", lines=300) as server:
        generator = OpenAIGenerator("fake", server.url, retries=0, timeout=10)
        [proposal] = generator.propose([request(requested=5)])
    assert proposal.error is None and len(proposal.texts) == 5


def test_a_server_that_echoes_the_key_gets_it_printed_and_stored_nowhere(caption_file, tmp_path, capsys, monkeypatch):
    """The key a server sends back in its error is redacted from the message, the result JSON and a run's Parquet."""
    import numpy as np
    import pyarrow.parquet as pq

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI("echo-key") as server:
        generator = OpenAIGenerator("fake", server.url, retries=0, timeout=5)
        [proposal] = generator.propose([request()])
        assert "HTTP 500" in proposal.error and "[redacted]" in proposal.error and SECRET not in proposal.error
        spec = f"openai:fake@{server.url},backoff=0.05,retries=0"
        options = ["--space", "minilm", "--bank", str(caption_file), "--generator", spec, "--steps", "1", "--requested", "5",
                   "--keep", "5", "--patience", "0"]
        assert main(["invert", "--text", "a dog on a beach", *options, "--json", str(tmp_path / "result.json")]) == 3
        from unembed.spaces import load_space

        np.save(tmp_path / "targets.npy", load_space("minilm").embed_text(["a dog on a beach", "a red car"]))
        assert main(["run", str(tmp_path / "targets.npy"), "--out", str(tmp_path / "run"), *options]) == 3
    captured = capsys.readouterr()
    assert "[redacted]" in captured.err and SECRET not in captured.err + captured.out
    assert SECRET not in (tmp_path / "result.json").read_text()
    errors = [row["error"] for path in (tmp_path / "run").glob("*.parquet") for row in pq.read_table(path).to_pylist()]
    assert errors and all(error and SECRET not in error and "[redacted]" in error for error in errors)


def test_a_key_echoed_in_the_answer_reaches_no_result_nor_parquet(caption_file, tmp_path, capsys, monkeypatch):
    """The probe's leak: a server that writes the request's Authorization header into its numbered lines. The loop
    cleans every candidate, whatever generator wrote it, before it is scored or kept."""
    import numpy as np
    import pyarrow.parquet as pq

    from unembed.spaces import load_space

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with FakeOpenAI("echo-key-lines") as server:
        [proposal] = OpenAIGenerator("fake", server.url, retries=0, timeout=5).propose([request()])
        assert any(SECRET in raw for raw in proposal.raw)  # the server did echo it
        options = ["--space", "minilm", "--bank", str(caption_file), "--generator", f"openai:fake@{server.url}", "--steps", "2",
                   "--requested", "5", "--keep", "5", "--patience", "0", "--no-fluency", "--min-gain", "0"]  # fmt: skip
        assert main(["invert", "--text", "a dog on a beach", *options, "--json", str(tmp_path / "result.json")]) == 0
        np.save(tmp_path / "targets.npy", load_space("minilm").embed_text(["a dog on a beach", "a red car"]))
        assert main(["run", str(tmp_path / "targets.npy"), "--out", str(tmp_path / "run"), *options]) == 0
    captured = capsys.readouterr()
    result = (tmp_path / "result.json").read_text()
    assert "[redacted]" in result and SECRET not in result + captured.out + captured.err
    rows = [row for path in (tmp_path / "run").glob("*.parquet") for row in pq.read_table(path).to_pylist()]
    assert rows and not any(SECRET in str(value) for row in rows for value in row.values())


def resident_bytes():
    """This process's resident memory (Linux)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def bounded(function, *args, rss=False, **kwargs):
    """Run `function` in a thread and return what it returned or raised; fail, rather than hang, if it has not ended
    within GUARD seconds. With `rss`, also return the most the process's resident memory grew meanwhile."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # handed to the test
            outcome["value"] = error

    thread = threading.Thread(target=target, daemon=True)
    before = resident_bytes() if rss else 0
    peak, started = before, time.monotonic()
    thread.start()
    while thread.is_alive() and time.monotonic() - started < GUARD:
        if rss:
            peak = max(peak, resident_bytes())
        thread.join(0.01)
    assert not thread.is_alive(), f"{function.__name__} was still running after {GUARD:g} s"
    return (outcome["value"], peak - before) if rss else outcome["value"]


@pytest.mark.parametrize("mode", ["trickle", "trickle-headers"])
def test_a_trickling_server_is_cut_at_the_deadline_of_the_step(mode):
    """httpx's timeout bounds each read, so a byte a second (in the body, or in the headers) held `--timeout 2` for minutes."""
    with FakeOpenAI(mode) as server:
        generator = OpenAIGenerator("fake", server.url, timeout=2, backoff=0.05)
        [proposal] = bounded(generator.propose, [request()])
        chats = [r for r in server.requests if r["path"].endswith("/chat/completions")]
    assert proposal.texts == [] and "did not finish within the step's 2 s (the --timeout)" in proposal.error
    assert len(chats) == 1, "the first try spent the step's time budget: no retry"


@pytest.mark.parametrize(("mode", "said"), [
    ("json-list", "the server answered without any choice (its `choices` empty or missing)"),
    ("deep", "RecursionError: maximum recursion depth exceeded"),
    ("content-list", "the answer's content is a JSON list, not text"),
    ("text", "the server's answer is not JSON"),  # the fifth probe: it was reported as an answer "without any choice"
])  # fmt: skip
def test_an_answer_of_the_wrong_shape_fails_the_step_by_name_on_the_cli(caption_file, mode, said, capsys):
    """The probe: a JSON array for the model list, an answer nested 100,000 deep, or message content that is a list
    ended in a traceback. The model list's shape is not the chat's business (the chat call still runs); a chat answer
    of the wrong shape fails its step, named."""
    with FakeOpenAI("ok", models_mode=mode) as server:
        code = main(["invert", "--text", "a dog running on a sandy beach", "--space", "minilm", "--bank", str(caption_file),
                     "--generator", f"openai:fake@{server.url}", "--steps", "1", "--requested", "5", "--patience", "0"])
    assert code == 0 and "Traceback" not in capsys.readouterr().err
    with FakeOpenAI(mode) as server:
        code = main(["invert", "--text", "a dog running on a sandy beach", "--space", "minilm", "--bank", str(caption_file),
                     "--generator", f"openai:fake@{server.url},backoff=0.05", "--steps", "1", "--requested", "5",
                     "--patience", "0"])
    err = capsys.readouterr().err
    assert code == 3 and said in err and "Traceback" not in err


@pytest.mark.parametrize(("mode", "said"), [
    ("trickle", "did not send its model list within 2 s"),
    ("trickle-headers", "did not send its model list within 2 s"),
    ("hang", "did not send its model list within 2 s"),
    ("endless", "more than 8 MiB"),
    ("huge-length", "2,000,000,000 bytes (Content-Length), more than the 8 MiB cap"),
    ("gzip", "compressed (gzip)"),
])  # fmt: skip
def test_a_hostile_model_list_is_an_error_naming_the_server(mode, said):
    """The start-up request for the model list hung silently on a trickle, and buffered an endless list whole."""
    with FakeOpenAI("ok", models_mode=mode) as server:
        error = bounded(OpenAIGenerator, "fake", server.url, timeout=2)
    assert isinstance(error, GeneratorError), error
    assert server.url in str(error) and said in str(error)


@pytest.mark.parametrize(("mode", "said"), [
    ("endless", "AnswerRefused: the server sent more than 8 MiB in one answer (the cap)"),
    ("huge-length", "AnswerRefused: the server announced an answer of 2,000,000,000 bytes (Content-Length), more than the 8 MiB cap"),
    ("gzip", "AnswerRefused: the server sent a compressed (gzip) answer though unembed asks for none"),
])  # fmt: skip
def test_an_answer_past_the_byte_cap_is_refused_and_memory_stays_bounded(mode, said):
    """An endless body (or one claiming 2 GB) was buffered whole: 7.3 GB at its peak. A compressed one could unpack past the cap."""
    if not Path("/proc/self/statm").exists():
        pytest.skip("reads the resident memory from /proc (Linux)")
    with FakeOpenAI(mode) as server:
        generator = OpenAIGenerator("fake", server.url, timeout=20, retries=0)
        [proposal], grew = bounded(generator.propose, [request()], rss=True)
        assert all(r["headers"].get("accept-encoding") == "identity" for r in server.requests)
    assert proposal.texts == [] and said in proposal.error
    assert grew < 200 * 2**20, f"the process grew by {grew / 2**20:.0f} MiB"


def test_control_characters_in_an_answer_never_reach_the_terminal(caption_file, capsys):
    """The generator keeps what the server wrote in `raw`; its candidates lose terminal escapes and control characters
    (generators.parsing), and the command escapes anything printed from outside (test_terminal.py)."""
    with FakeOpenAI("ansi") as server:
        [proposal] = OpenAIGenerator("fake", server.url, retries=0, timeout=5).propose([request()])
        assert proposal.error is None and any("\x07" in raw and "\x1b" in raw for raw in proposal.raw)
        assert proposal.texts and not any(ord(character) < 32 for text in proposal.texts for character in text)
        code = main(["invert", "--text", "a dog on a beach", "--space", "minilm", "--bank", str(caption_file),
                     "--generator", f"openai:fake@{server.url}", "--steps", "1", "--requested", "5", "--keep", "5",
                     "--patience", "0", "--no-fluency", "--timeout", "5"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and "a photo of a dog number 1 on a beach" in captured.out  # the answer won, without its escapes
    assert "\x1b" not in captured.out + captured.err and "\x07" not in captured.out + captured.err


@pytest.mark.parametrize(("route", "code", "said"), [
    ("chat", 3, "did not finish within the step's 2 s (the --timeout)"),
    ("models", 2, "did not send its model list within 3 s (the start-up check"),
])  # fmt: skip
def test_a_trickling_server_on_the_cli_ends_at_its_deadline(caption_file, capsys, monkeypatch, route, code, said):
    """The command sets --timeout on the generator it built, so the start-up check keeps its own CHECK_SECONDS (10 s; 3 here)."""
    monkeypatch.setattr(openai_compat, "CHECK_SECONDS", 3.0)
    modes = {"mode": "trickle"} if route == "chat" else {"models_mode": "trickle"}
    with FakeOpenAI(**modes) as server:
        returned = bounded(main, ["invert", "--text", "a dog on a beach", "--space", "minilm", "--bank", str(caption_file),
                                  "--generator", f"openai:fake@{server.url}", "--timeout", "2", "--steps", "1",
                                  "--requested", "5", "--keep", "5", "--patience", "0"])  # fmt: skip
    captured = capsys.readouterr()
    assert returned == code and said in " ".join(captured.err.split())  # messages are wrapped


def test_a_redirected_chat_call_is_named_not_followed(caption_file, capsys):
    """The probe: a server answering the chat POST with a 302 got it followed as a GET (to the model list), and the
    step failed with "the server answered without any choice". The redirect is not followed; the error names it."""
    with FakeOpenAI("ok") as elsewhere, FakeOpenAI("redirect") as first:
        first.redirect_to = elsewhere.url
        generator = OpenAIGenerator("fake", first.url, retries=0, timeout=5)
        [proposal] = generator.propose([request()])
        assert not elsewhere.requests, "the redirect was followed"
        assert proposal.texts == []
        assert f"redirect (HTTP 302 to {elsewhere.url}/chat/completions)" in proposal.error and "not follow" in proposal.error
        code = main(["invert", "--text", "a dog on a beach", "--space", "minilm", "--bank", str(caption_file),
                     "--generator", f"openai:fake@{first.url},backoff=0.05", "--steps", "1", "--requested", "5",
                     "--keep", "5", "--patience", "0"])
    error = capsys.readouterr().err
    assert code == 3 and f"HTTP 302 to {elsewhere.url}/chat/completions" in error and "without any choice" not in error


def test_a_url_written_after_an_option_is_refused_not_read_into_the_key():
    """Probe: `openai:MODEL,api_key=KEY@URL` read the URL into the key and called the default endpoint with it."""
    from unembed.generators import load_generator

    with pytest.raises(GeneratorError, match="option api_key holds a URL.*openai:MODEL@http://host:port/v1,KEY=VALUE"):
        load_generator("openai:fake,api_key=zzSECRETzz@http://127.0.0.1:9/v1")


def test_a_model_list_redirected_to_where_nothing_listens_names_the_redirect(monkeypatch):
    """The probe: a server whose /models redirected to a dead port was reported as "no OpenAI-compatible server answers
    at" its own URL, which had answered."""
    import socket

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    with FakeOpenAI("ok", models_mode="redirect", redirect_to=dead) as server:
        with pytest.raises(GeneratorError) as refused:
            OpenAIGenerator("fake", server.url, api_key=SECRET, retries=0, timeout=5)
    said = str(refused.value)
    assert f"the server at {server.url} redirected its model list to {dead}/models, where no server answers" in said
    assert "no OpenAI-compatible server answers at" not in said and SECRET not in said


def test_ctrl_c_during_a_hung_chat_call_ends_the_command_at_once(caption_file):
    """The probe: Ctrl-C on `unembed run` while the server held a chat call waited for the step's whole --timeout
    (120 s): the thread pool's shutdown, and Python's exit, joined the call in flight."""
    import signal
    import subprocess
    import sys

    with FakeOpenAI("hang") as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "unembed", "invert", "--text", "a dog on a beach", "--space", "minilm", "--bank",
             str(caption_file), "--generator", f"openai:fake@{server.url}", "--steps", "1", "--timeout", "600"],
            stderr=subprocess.PIPE, text=True,
        )
        waited = time.monotonic()
        while not any(seen["method"] == "POST" for seen in server.requests):  # the chat call is in flight
            assert process.poll() is None and time.monotonic() - waited < 120, "the chat call never started"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=15)  # a hang guard: the fake holds the call for 20 s, the step 600 s
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("Ctrl-C did not end the command while a chat call hung")
    assert process.returncode == 130 and err.strip().endswith("unembed: interrupted; stopped.") and "Traceback" not in err
