"""Generators on real backends: SmolLM2 through llama.cpp, a real OpenAI-compatible server, `mutate`."""

import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from unembed.errors import GeneratorError, WeightsNotFoundError
from unembed.generators import ProposalRequest, load_generator
from unembed.generators.openai_compat import OpenAIGenerator
from unembed.generators.parsing import candidate_key
from unembed.index import Bank
from unembed.inverter import fill_template, invert, load_template
from unembed.spaces import load_space

CANDIDATES = [(0.71, "A dog running on a sandy beach"), (0.65, "A puppy playing with a ball"),
              (0.60, "Photo of a beach at sunset")]


def request(seed=0, requested=5, max_words=10):
    template = fill_template(load_template("image"), CANDIDATES, max_words)
    return ProposalRequest(template=template, candidates=CANDIDATES, neighbours=["A cat on a sofa"],
                           requested=requested, max_words=max_words, seed=seed)


def test_prompt_lists_candidates_best_first():
    prompt = request(requested=7).prompt()
    assert "0.710: A dog running on a sandy beach\n0.650: A puppy" in prompt
    assert "7 new short image descriptions" in prompt and "at most 10 words" in prompt
    assert "{" not in prompt


def test_unknown_and_missing_generators_are_clear(tmp_path):
    with pytest.raises(GeneratorError, match="Known"):
        load_generator("gpt-nonsense")
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        load_generator(f"llama.cpp:{tmp_path / 'absent.gguf'}")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GeneratorError, match="no OpenAI-compatible server"):
        load_generator(f"openai:smollm2@http://127.0.0.1:{port}/v1")


def test_mutate_proposals():
    mutate = load_generator("mutate")
    first, second = mutate.propose([request(seed=1, requested=8)])[0], mutate.propose([request(seed=1, requested=8)])[0]
    assert first.texts == second.texts and len(first.texts) == 8
    known = {candidate_key(text) for _, text in CANDIDATES}
    assert all(candidate_key(text) not in known and len(text.split()) <= 10 for text in first.texts)
    assert mutate.propose([request(seed=2, requested=8)])[0].texts != first.texts


@pytest.mark.slow
def test_smollm2_answers_in_the_grammar():
    pytest.importorskip("llama_cpp")
    generator = load_generator("llama.cpp")
    proposal = generator.propose([request(seed=0, requested=10)])[0]
    assert proposal.error is None
    assert proposal.calls == 2  # 10 lines in calls of 5
    assert len(proposal.texts) >= 5 and all(len(text.split()) <= 10 for text in proposal.texts)
    assert proposal.prompt_tokens > 100 and proposal.completion_tokens > 20
    # Every raw answer is exactly the 5 numbered lines the grammar allows.
    for raw in proposal.raw:
        assert [line.split(". ", 1)[0] for line in raw.strip().splitlines()] == ["1", "2", "3", "4", "5"]


class StoppingServerGenerator(OpenAIGenerator):
    """The real client; the test stops the real server after its first step."""

    def __init__(self, server, *args, **kwargs):
        self.server = server
        super().__init__(*args, **kwargs)

    def propose(self, requests):
        proposals = super().propose(requests)
        if self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=30)
        return proposals


@pytest.fixture()
def llama_server():
    pytest.importorskip("llama_cpp.server")
    from unembed.generators.llama_cpp import default_gguf

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--model_alias", "smollm2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url + "/models", timeout=2).read()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("llama_cpp.server did not start")
            time.sleep(0.5)
    yield server, url
    if server.poll() is None:
        server.kill()
        server.wait()


@pytest.mark.slow
def test_server_stopped_mid_run(llama_server):
    server, url = llama_server
    space = load_space("minilm")
    bank = Bank.from_texts([text for _, text in CANDIDATES] + ["A cat on a sofa", "A red car on a street"], space)
    target = space.embed_text(["A brown dog catching a frisbee on the beach"])[0]
    generator = StoppingServerGenerator(server, "smollm2", url, lines_per_call=5, retries=2, backoff=0.1)
    result = invert(target, space=space, bank=bank, generator=generator, fallback="mutate", steps=3,
                    requested=5, keep=5, patience=None)
    first, later = result.history[1], result.history[2:]
    # While it was up the server answered (SmolLM2 may still write no usable numbered line: then mutate steps in).
    assert first.llm_calls >= 1 and "Connection refused" not in (first.error or "") and "URLError" not in (first.error or "")
    assert len(later) == 2
    for record in later:
        # The server is gone: each call was tried 3 times (2 retries), then mutate stepped in.
        assert record.fallback and record.llm_calls == 3
        assert "Connection refused" in record.error or "URLError" in record.error
        assert record.candidates  # mutate's texts were scored
    assert np.isfinite(result.score) and result.score >= result.bootstrap_score


@pytest.mark.slow
def test_failed_steps_without_fallback_are_recorded(llama_server):
    server, url = llama_server
    space = load_space("minilm")
    bank = Bank.from_texts([text for _, text in CANDIDATES], space)
    # Unconstrained, SmolLM2 sometimes answers without a numbered line: retries cover that.
    generator = StoppingServerGenerator(server, "smollm2", url, lines_per_call=5, retries=3, backoff=0.05)
    result = invert(space.embed_text(["A dog on a beach"])[0], space=space, bank=bank, generator=generator,
                    steps=3, requested=5, keep=3, patience=None)
    assert [record.failed for record in result.history[1:]] == [False, True, True]
    assert result.history[-1].candidates == [] and result.history[-1].error


def test_transformers_batches_calls_and_reports_unusable_answers(tmp_path):
    """Plumbing on a random-weight Llama: its answers are noise, so every request fails cleanly."""
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = "<pad> <eos> <unk> 1 2 3 . a dog cat on the beach photo of".split()
    tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    ).save_pretrained(tmp_path)
    config = transformers.LlamaConfig(vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096)
    transformers.LlamaForCausalLM(config).save_pretrained(tmp_path)

    generator = load_generator(f"transformers:{tmp_path}", lines_per_call=5, batch_size=2)
    generator.retries, generator.backoff = 1, 0.0
    proposals = generator.propose([request(seed=0, requested=10), request(seed=1, requested=5)])
    # 2 + 1 calls, each tried twice (no numbered line in noise).
    assert [proposal.calls for proposal in proposals] == [4, 2]
    for proposal in proposals:
        assert proposal.texts == [] and "no usable numbered line" in proposal.error
        assert proposal.prompt_tokens > 50 and proposal.completion_tokens > 0
