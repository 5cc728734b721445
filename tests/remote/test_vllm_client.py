"""The remote engine's HTTP client against a real vLLM serving the tiny model.

What vLLM itself says is the evidence: its ``/tokenize`` for the tokenizer, its tokens and
log-probabilities against the local torch decoding, its ``/metrics`` counters for aborted
requests and prefix-cache hits.
"""

from __future__ import annotations

import logging
import ssl
import time

import pytest

from galactica_lsp.engine.galactica import END_REF_ID, EOS_ID, work_prompt
from galactica_lsp.engine.types import DecodeSettings
from galactica_lsp.engine.remote import API_KEY_ENV, Aborted, RemoteClient, RemoteError, completion_body
from galactica_lsp.tiny.corpus import FORMULAS, PARAGRAPHS, UNIQUE_CITATIONS, render

from .conftest import CancelAfterChecks, Proxy, assert_vllm_aborts, self_signed_certificate

CITE_STOPS = [END_REF_ID, EOS_ID]


@pytest.fixture(scope="module")
def remote(vllm_server):
    client = RemoteClient(vllm_server.url, api_key=vllm_server.api_key)
    yield client
    client.close()


@pytest.fixture(scope="module")
def served(remote):
    return remote.models()[0].id


@pytest.fixture(scope="module")
def tokenizer(local_engine):
    return local_engine.loaded.tokenizer


def ids_of(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def wait_for(metric, at_least: float, remote: RemoteClient, timeout: float = 60.0, **labels) -> float:
    """vLLM updates /metrics after a request ends; poll until the counter reaches ``at_least``."""
    deadline = time.monotonic() + timeout
    while True:
        value = remote.metrics().value(metric, **labels)
        if value >= at_least or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_the_endpoint_serves_the_tiny_model_with_its_context_length(remote, vllm_server):
    remote.health()
    [model] = remote.models()
    assert model.id == str(vllm_server.model_dir)
    assert model.max_model_len == 1024


def test_the_served_tokenizer_gives_the_same_ids_as_ours(remote, served, tokenizer):
    probe = "Attention [START_REF] Attention is All you Need, Vaswani[END_REF] 2048 <work>\n$x^2$</s>"
    assert remote.tokenize(served, probe) == ids_of(tokenizer, probe)


@pytest.mark.parametrize("citation", UNIQUE_CITATIONS[:4], ids=lambda c: c.key)
def test_greedy_over_vllm_writes_the_local_tokens_with_the_local_log_probabilities(remote, served, local_engine,
                                                                                  tokenizer, citation):
    settings = DecodeSettings(max_new_tokens=40, stop_token_ids=tuple(CITE_STOPS))
    [local] = local_engine.call(lambda g, c: g.complete(citation.prompt, settings, c, key="remote-compare"), "complete")
    reply = remote.complete(completion_body(served, ids_of(tokenizer, citation.prompt), 40, CITE_STOPS))
    [choice] = reply.choices
    assert choice.token_ids == list(local.token_ids)
    assert choice.token_ids[-1] == END_REF_ID and choice.finish_reason == "stop" and choice.stop_reason == END_REF_ID
    assert choice.logprobs == pytest.approx(list(local.logprobs), abs=2e-3)
    assert choice.text == citation.continuation.removesuffix("[END_REF]")


def test_special_tokens_come_back_in_the_text(remote, served, tokenizer):
    formula = FORMULAS[0]
    prompt = [EOS_ID] + ids_of(tokenizer, work_prompt(formula.latex))
    reply = remote.complete(completion_body(served, prompt, 200, [EOS_ID]))
    [choice] = reply.choices
    assert choice.text == formula.work_continuation
    assert "</work>" in choice.text


def test_a_cancelled_stream_is_aborted_by_vllm(remote, vllm_server, served, tokenizer):
    """vLLM's own token counter stops within a few tokens of the disconnect, short of max_tokens."""
    prompt = ids_of(tokenizer, render(PARAGRAPHS[0]))[:8]

    def send_cancelled():
        with pytest.raises(Aborted):  # no stop: it would write 1000 tokens
            remote.complete(completion_body(served, prompt, 1000, []), CancelAfterChecks())

    assert_vllm_aborts(RemoteClient(vllm_server.url), send_cancelled, 1000)  # /metrics needs no key


def test_successive_keystroke_prompts_hit_vllms_prefix_cache(remote, served, tokenizer):
    text = render(PARAGRAPHS[1])
    queries = remote.metrics().value("vllm:prefix_cache_hits_total")
    cached = []
    for typed in range(3):  # the user types on at the end: the prompt grows, its start stays
        prompt = ids_of(tokenizer, text[: 400 + 3 * typed])
        cached.append(remote.complete(completion_body(served, prompt, 4, [EOS_ID])).cached_tokens)
    assert cached[0] is not None and cached[1] >= 32 and cached[2] >= 32  # whole 32-token blocks reused
    assert remote.metrics().value("vllm:prefix_cache_hits_total") - queries >= cached[1] + cached[2]


def test_without_the_api_key_the_server_refuses_and_says_which_setting(vllm_server, monkeypatch):
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with pytest.raises(RemoteError) as error:
        RemoteClient(vllm_server.url).models()
    assert error.value.kind == "unauthorized" and API_KEY_ENV in str(error.value)


def test_the_key_is_sent_but_never_logged(vllm_server, caplog):
    caplog.set_level(logging.DEBUG)
    client = RemoteClient(vllm_server.url, api_key=vllm_server.api_key)
    assert client.models()
    assert vllm_server.api_key not in caplog.text and vllm_server.api_key not in repr(client)


def test_a_server_restart_mid_session_fails_clearly_then_recovers(vllm_server, served, tokenizer):
    """Through a relay that is taken down and brought back on the same port: kept-alive connections drop,
    new ones are refused, then the server is back."""
    proxy = Proxy(vllm_server.port).start()
    client = RemoteClient(proxy.url, api_key=vllm_server.api_key, retries=2, backoff=0.05)
    try:
        body = completion_body(served, ids_of(tokenizer, UNIQUE_CITATIONS[0].prompt), 8, CITE_STOPS)
        first = client.complete(body)
        proxy.stop()
        with pytest.raises(RemoteError) as error:
            client.complete(body)
        assert error.value.kind == "refused"
        proxy.start()
        assert client.complete(body).choices[0].token_ids == first.choices[0].token_ids
    finally:
        proxy.stop()
        client.close()


def test_https_works_and_an_untrusted_certificate_is_a_tls_error(vllm_server, served, tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    proxy = Proxy(vllm_server.port, tls).start()
    try:
        trusted = RemoteClient(proxy.url, api_key=vllm_server.api_key, ca_file=str(cert))
        assert [m.id for m in trusted.models()] == [served]
        with pytest.raises(RemoteError) as error:
            RemoteClient(proxy.url, api_key=vllm_server.api_key, retries=0).models()
        assert error.value.kind == "tls"
    finally:
        proxy.stop()
