"""The OpenAI-compatible generator against a real fake server on 127.0.0.1: errors, garbage, hangs, redirects."""

import pytest

from fake_openai import FakeOpenAI
from unembed.cli import main
from unembed.generators import ProposalRequest
from unembed.generators.openai_compat import OpenAIGenerator

SECRET = "sk-test-secret-0123456789"


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
