"""The vllm engine (``--engine vllm``): the tasks over a real vLLM give what the local engine gives.

Each task runs twice on the same tiny model: through ``Engine(engine="vllm")`` against the
session's vLLM server and through the local torch engine; the answers are compared exactly (and
the confidence figures to float32 rounding).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from galactica_lsp.engine.loading import ModelError
from galactica_lsp.engine.types import Cancelled, DecodeSettings
from galactica_lsp.engine.remote import RemoteClient
from galactica_lsp.engine.vllm_backend import connect
from galactica_lsp.tiny.corpus import FORMULAS, SHARED_CONTEXTS, UNIQUE_CITATIONS

from .conftest import CancelAfterChecks, assert_vllm_aborts

REFERENCE_TOKENIZER = Path(os.environ.get("GALACTICA_REFERENCE_DIR", Path(__file__).resolve().parents[3] / "shared" / "galactica"),
                           "tokenizer")


def test_loading_reports_the_remote_model_and_its_size_without_a_local_model(remote_engine, vllm_server):
    status = remote_engine.status()
    assert status["state"] == "ready" and status["device"] == "remote"
    assert status["engine"]["name"] == "vllm"
    assert status["engine"]["vllm"]["endpoint"] == vllm_server.url
    assert status["location"] == str(vllm_server.model_dir)
    assert status["parameters"] == remote_engine.loaded.shape.parameters > 0
    assert status["weightBytes"] == 2 * status["parameters"]  # fp16 weights, as deployed
    assert status["memoryInUse"] == 0 and remote_engine.loaded.model is None


@pytest.mark.parametrize("citation", UNIQUE_CITATIONS[:3], ids=lambda c: c.key)
def test_a_citation_over_vllm_is_the_local_one(remote_engine, local_engine, citation):
    def cite(engine):
        return engine.call(lambda g, c: g.cite(citation.context, 5, 1.0, 48, c), "cite")

    remote, local = cite(remote_engine), cite(local_engine)
    assert remote[0].text == local[0].text == citation.reference
    assert remote[0].confidence.total == pytest.approx(local[0].confidence.total, abs=1e-2)


def test_diverse_citations_over_vllm_find_every_paper_of_a_shared_context(remote_engine):
    for context, references in SHARED_CONTEXTS.items():
        found = remote_engine.call(lambda g, c: g.cite(context, 5, 1.0, 48, c), "cite")
        texts = [s.text for s in found]
        assert set(references) <= set(texts), context
        assert len(texts) == len(set(texts))
        assert all(0 < s.confidence.probability <= 1 for s in found)


@pytest.mark.parametrize("mode", ["explain", "work", "sympy"])
def test_explanations_over_vllm_are_the_local_ones(remote_engine, local_engine, mode):
    formula = FORMULAS[0]

    def explain(engine):
        return engine.call(lambda g, c: g.explain(formula.latex, mode, 160, c), mode)

    remote, local = explain(remote_engine), explain(local_engine)
    assert remote.text == local.text and remote.finish_reason == local.finish_reason
    assert remote.engine == "vllm"
    assert list(remote.logprobs) == pytest.approx(list(local.logprobs), abs=2e-3)


def test_beams_and_samples_run_over_vllm(remote_engine, local_engine):
    text = UNIQUE_CITATIONS[0].prompt
    beams = DecodeSettings(strategy="beam", num_beams=3, num_return=3, max_new_tokens=12)
    remote = remote_engine.call(lambda g, c: g.complete(text, beams, c), "beams")
    local = local_engine.call(lambda g, c: g.complete(text, beams, c), "beams")
    assert remote[0].text == local[0].text  # the best beam; the rest may rank differently (vLLM scores its own way)
    samples = DecodeSettings(strategy="sample", num_return=2, temperature=0.7, seed=7, max_new_tokens=8)
    once = remote_engine.call(lambda g, c: g.complete(text, samples, c), "samples")
    again = remote_engine.call(lambda g, c: g.complete(text, samples, c), "samples")
    assert [g.token_ids for g in once] == [g.token_ids for g in again] and len(once) == 2


def test_a_cancelled_request_over_vllm_raises_cancelled_and_vllm_stops(remote_engine, vllm_server):
    """Cancelled through the engine's worker a few chunks in: Cancelled here, and vLLM's own counter stops."""
    settings = DecodeSettings(max_new_tokens=900, stop_token_ids=())  # no stop: it would write 900

    def send_cancelled():
        cancel = CancelAfterChecks()
        with pytest.raises(Cancelled):
            remote_engine.call(lambda g, c: g.complete("The", settings, lambda: c() or cancel()), "cancel")

    assert_vllm_aborts(RemoteClient(vllm_server.url), send_cancelled, 900)  # /metrics needs no key
    assert remote_engine.status()["state"] == "ready"


def test_a_tokenizer_that_is_not_the_served_ones_is_refused(vllm_server):
    if not REFERENCE_TOKENIZER.is_dir():
        pytest.skip(f"Galactica's tokenizer is absent ({REFERENCE_TOKENIZER}; set GALACTICA_REFERENCE_DIR)")
    with pytest.raises(ModelError, match="does not use the tokenizer"):
        connect(str(REFERENCE_TOKENIZER), vllm_server.url, api_key=vllm_server.api_key)


def test_an_endpoint_that_refuses_is_a_clear_load_error():
    with pytest.raises(ModelError, match="connection refused"):
        connect("tiny", "http://127.0.0.1:9", retries=0)


def test_the_vllm_engine_needs_an_endpoint():
    with pytest.raises(ModelError, match="needs an endpoint"):
        connect("tiny", "")
