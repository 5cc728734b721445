"""The decoding loops (on ``opt.OPT``), checked against transformers' own generate() on the same small random OPT."""

from __future__ import annotations

import pytest
import torch
from transformers import OPTConfig, OPTForCausalLM

from galactica_lsp.engine.decoding import Cancelled, DecodeSettings, generate
from galactica_lsp.engine.opt import OPT
from galactica_lsp.engine.prefix_cache import PrefixCache

PROMPT = [5, 6, 7, 8, 9]


@pytest.fixture(scope="module")
def hf_model():
    """transformers' OPT, random weights: the reference."""
    torch.manual_seed(0)
    config = OPTConfig(
        vocab_size=300, hidden_size=64, num_hidden_layers=2, ffn_dim=128, num_attention_heads=4,
        max_position_embeddings=256, word_embed_proj_dim=64,
    )
    return OPTForCausalLM(config).eval()


@pytest.fixture(scope="module")
def model(hf_model):
    """The same weights in the server's own forward pass."""
    return OPT.from_transformers(hf_model)


def as_text(ids):
    return " ".join(map(str, ids))


def reference(model, **kwargs) -> list[list[int]]:
    out = model.generate(torch.tensor([PROMPT]), pad_token_id=1, eos_token_id=2, **kwargs)
    return out[:, len(PROMPT) :].tolist()


def test_greedy_equals_transformers_generate(model, hf_model):
    ours = generate(model, PROMPT, DecodeSettings(max_new_tokens=12, stop_token_ids=()), as_text)
    assert [list(ours[0].token_ids)] == reference(hf_model, max_new_tokens=12, do_sample=False)
    assert ours[0].finish_reason == "length"


def test_beam_search_equals_transformers_generate(model, hf_model):
    settings = DecodeSettings(strategy="beam", num_beams=4, num_return=4, max_new_tokens=10, stop_token_ids=())
    ours = generate(model, PROMPT, settings, as_text)
    expected = reference(hf_model, max_new_tokens=10, do_sample=False, num_beams=4, num_return_sequences=4)
    assert [list(g.token_ids) for g in ours] == expected


def test_logprobs_are_the_models_own(model, hf_model):
    gen = generate(model, PROMPT, DecodeSettings(max_new_tokens=5, stop_token_ids=()), as_text)[0]
    with torch.no_grad():
        logits = hf_model(torch.tensor([PROMPT + list(gen.token_ids)])).logits[0].float().log_softmax(-1)
    expected = [logits[len(PROMPT) - 1 + i, t].item() for i, t in enumerate(gen.token_ids)]
    assert gen.logprobs == pytest.approx(expected, abs=1e-4)
    assert gen.confidence.minimum == min(gen.logprobs)
    assert gen.confidence.total == pytest.approx(sum(gen.logprobs))
    assert 0 < gen.confidence.probability <= 1


def test_diverse_beams_start_differently_where_plain_beams_share_a_prefix(model):
    plain = generate(model, PROMPT, DecodeSettings(strategy="beam", num_beams=4, num_return=4, max_new_tokens=8,
                                                   stop_token_ids=()), as_text)
    diverse = generate(model, PROMPT, DecodeSettings(strategy="beam", num_beams=4, num_return=4, beam_groups=4,
                                                     diversity=2.0, max_new_tokens=8, stop_token_ids=()), as_text)
    assert len({g.token_ids[0] for g in plain}) < len({g.token_ids[0] for g in diverse}) == 4
    # The first group is plain beam search with one beam: greedy.
    greedy = generate(model, PROMPT, DecodeSettings(max_new_tokens=8, stop_token_ids=()), as_text)[0]
    assert greedy.token_ids in [g.token_ids for g in diverse]


def test_sampling_is_reproducible_with_a_seed_and_varies_without(model):
    settings = DecodeSettings(strategy="sample", num_return=3, seed=7, temperature=1.0, max_new_tokens=8,
                              stop_token_ids=())
    first = [g.token_ids for g in generate(model, PROMPT, settings, as_text)]
    again = [g.token_ids for g in generate(model, PROMPT, settings, as_text)]
    assert first == again and len(set(first)) == 3


def test_top_k_one_is_greedy(model):
    greedy = generate(model, PROMPT, DecodeSettings(max_new_tokens=8, stop_token_ids=()), as_text)[0]
    top1 = generate(model, PROMPT, DecodeSettings(strategy="sample", top_k=1, seed=3, temperature=1.0,
                                                  max_new_tokens=8, stop_token_ids=()), as_text)[0]
    assert top1.token_ids == greedy.token_ids


def test_stop_token_ends_the_sequence_and_is_left_out_of_the_text(model):
    greedy = generate(model, PROMPT, DecodeSettings(max_new_tokens=8, stop_token_ids=()), as_text)[0]
    stop = greedy.token_ids[2]
    gen = generate(model, PROMPT, DecodeSettings(max_new_tokens=8, stop_token_ids=(stop,)), as_text)[0]
    first_stop = greedy.token_ids.index(stop)
    assert gen.finish_reason == "stop" and gen.token_ids == greedy.token_ids[: first_stop + 1]
    assert gen.text == as_text(greedy.token_ids[:first_stop])


def test_stop_string_cuts_the_text(model):
    greedy = generate(model, PROMPT, DecodeSettings(max_new_tokens=8, stop_token_ids=()), as_text)[0]
    marker = str(greedy.token_ids[3])
    gen = generate(model, PROMPT, DecodeSettings(max_new_tokens=8, stop_token_ids=(), stop_strings=(f" {marker}",)),
                   as_text)[0]
    assert gen.finish_reason == "stop" and f" {marker}" not in gen.text
    assert as_text(greedy.token_ids).startswith(gen.text)


def test_cancellation_stops_within_one_step(model):
    steps = []

    def cancelled():
        steps.append(1)
        return len(steps) > 3

    with pytest.raises(Cancelled):
        generate(model, PROMPT, DecodeSettings(max_new_tokens=200, stop_token_ids=()), as_text, cancelled)
    assert len(steps) == 4  # polled once per forward pass; the 4th poll said stop and nothing ran after it


def test_time_cap_returns_what_was_made(model):
    gen = generate(model, PROMPT, DecodeSettings(max_new_tokens=200, stop_token_ids=(), time_limit=1e-9), as_text)[0]
    assert gen.finish_reason == "time" and 1 <= len(gen.token_ids) < 200


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"strategy": "nucleus"}, "unknown strategy"),
        ({"max_new_tokens": 0}, "at least 1"),
        ({"strategy": "beam", "num_beams": 2, "num_return": 3}, "num_beams must be at least"),
        ({"strategy": "beam", "num_beams": 5, "beam_groups": 2}, "multiple"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DecodeSettings(**kwargs)


# -- the prefix cache: reusing an earlier prompt's keys and values changes nothing in the output


def _greedy(model, prompt, prefixes=None, key="doc", **kwargs):
    settings = DecodeSettings(max_new_tokens=10, stop_token_ids=(), **kwargs)
    return generate(model, prompt, settings, as_text, prefixes=prefixes, key=key)


BASE = list(range(10, 60))


@pytest.mark.parametrize(
    "name,edited,reused",
    [
        ("append", BASE + [61, 62, 63], len(BASE)),
        ("edit in the middle", BASE[:20] + [99] + BASE[21:], 20),
        ("unrelated prompt", [200, 201, 202, 203], 0),
        ("same prompt again", BASE, len(BASE) - 1),
        ("shorter prompt", BASE[:30], 29),
    ],
)
def test_reusing_a_prefix_gives_the_same_output_as_a_full_prefill(model, name, edited, reused):
    prefixes = PrefixCache()
    _greedy(model, BASE, prefixes)
    with_reuse = _greedy(model, edited, prefixes)[0]
    without = _greedy(model, edited)[0]
    assert with_reuse.token_ids == without.token_ids
    assert with_reuse.logprobs == pytest.approx(without.logprobs, abs=1e-4)
    assert with_reuse.reused_tokens == reused and with_reuse.prompt_tokens == len(edited)


def test_beams_and_samples_from_a_reused_prefix_equal_those_from_a_full_prefill(model):
    prefixes = PrefixCache()
    _greedy(model, BASE, prefixes)
    edited = BASE + [70, 71]
    reuses = []
    for settings in (
        DecodeSettings(strategy="beam", num_beams=4, num_return=4, beam_groups=4, diversity=1.0, max_new_tokens=8,
                       stop_token_ids=()),
        DecodeSettings(strategy="sample", num_return=3, seed=5, temperature=1.0, max_new_tokens=8, stop_token_ids=()),
    ):
        reused = generate(model, edited, settings, as_text, prefixes=prefixes, key="doc")
        fresh = generate(model, edited, settings, as_text)
        assert [g.token_ids for g in reused] == [g.token_ids for g in fresh]
        reuses.append(reused[0].reused_tokens)
    assert reuses == [len(BASE), len(edited) - 1]  # the second run finds the first one's whole prompt


def test_the_stored_prefix_survives_decoding_and_cancellation(model):
    prefixes = PrefixCache()
    polls_after_store = []

    def cancelled():
        if prefixes.tokens:  # the prefill is stored: from here on, each poll comes before a decoding step
            polls_after_store.append(1)
        return len(polls_after_store) > 20

    with pytest.raises(Cancelled):
        generate(model, BASE, DecodeSettings(max_new_tokens=50, stop_token_ids=()), as_text, cancelled, prefixes, "doc")
    # 20 decoding steps wrote their keys and values into the buffer the stored prefill is a view of (its room);
    # the prefill was kept although the request was then cancelled, and its values are unchanged.
    assert len(polls_after_store) == 21 and prefixes.tokens == len(BASE)
    again = _greedy(model, BASE + [64], prefixes)[0]
    assert again.reused_tokens == len(BASE)
    assert again.token_ids == _greedy(model, BASE + [64])[0].token_ids
    assert again.logprobs == pytest.approx(_greedy(model, BASE + [64])[0].logprobs, abs=1e-5)


def test_the_prefix_cache_is_bounded_by_entries_and_by_buffer_tokens_room_included(model):
    # A prefill of n tokens is computed into a buffer of n + max(64, n // 4) tokens (at most the 256 positions),
    # and the stored prefill keeps that buffer: 50 tokens hold 114, 70 hold 134, 150 hold 214, 200 hold 256.
    prefixes = PrefixCache(max_entries=2, max_tokens=250)
    for start, key in ((10, "a"), (60, "b"), (110, "c")):  # three prompts that share no prefix
        _greedy(model, list(range(start, start + 50)), prefixes, key=key)
    status = prefixes.status()
    assert (status["entries"], status["tokens"], status["heldTokens"], status["maxTokens"]) == (2, 100, 228, 250)
    _greedy(model, list(range(100, 170)), prefixes, key="d")  # 134 + 114 = 248: both fit
    assert (prefixes.status()["entries"], prefixes.tokens, prefixes.held_tokens) == (2, 120, 248)
    _greedy(model, list(range(100, 250)), prefixes, key="e")  # 214: only it fits
    assert (prefixes.status()["entries"], prefixes.tokens, prefixes.held_tokens) == (1, 150, 214)
    _greedy(model, list(range(10, 210)), prefixes, key="f")  # 256 on its own: over the bound, not kept
    assert (prefixes.status()["entries"], prefixes.tokens, prefixes.held_tokens) == (1, 150, 214)


# -- a long prompt's prefill, in chunks


@pytest.fixture(scope="module")
def long_model():
    """A small random OPT with room for 2,048 positions."""
    torch.manual_seed(1)
    config = OPTConfig(vocab_size=300, hidden_size=32, num_hidden_layers=2, ffn_dim=64, num_attention_heads=2,
                       max_position_embeddings=2048, word_embed_proj_dim=32)
    return OPT.from_transformers(OPTForCausalLM(config).eval())


class Counting:
    """``model``, counting the tokens each forward pass is fed (and calling ``before`` ahead of each)."""

    def __init__(self, model, before=lambda: None):
        self.model, self.fed, self.before = model, [], before

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __call__(self, ids, cache):
        self.fed.append(ids.shape[1])
        self.before()
        return self.model(ids, cache)


LONG = [3 + (i * 7) % 290 for i in range(2000)]


def test_a_long_prompt_is_prefilled_in_chunks_with_the_same_result(long_model):
    counting = Counting(long_model)
    fed = counting.fed
    chunked = generate(counting, LONG, DecodeSettings(max_new_tokens=4, stop_token_ids=()), as_text)[0]
    assert fed == [128] * 15 + [80] + [1] * 3  # 2,000 = 15 × 128 + 80, then three decoding steps
    whole = generate(counting, LONG, DecodeSettings(max_new_tokens=4, stop_token_ids=()), as_text,
                     prefill_chunk=4096)[0]
    assert fed[19:] == [2000, 1, 1, 1]
    assert chunked.token_ids == whole.token_ids
    assert chunked.logprobs == pytest.approx(whole.logprobs, abs=1e-4)


def test_a_cancel_during_a_long_prefill_stops_after_one_chunk(long_model):
    flag = {"set": False}
    # The cancel comes while the first chunk runs (set before the pass, as another thread would set it).
    counting = Counting(long_model, before=lambda: flag.update(set=True))
    with pytest.raises(Cancelled):
        generate(counting, LONG, DecodeSettings(max_new_tokens=4, stop_token_ids=()), as_text, lambda: flag["set"])
    assert counting.fed == [128]  # one chunk of 128 tokens, not the 2,000-token prompt
