"""The decoding loops, checked against transformers' own generate() on a small random OPT."""

from __future__ import annotations

import pytest
import torch
from transformers import OPTConfig, OPTForCausalLM

from galactica_lsp.engine.decoding import Cancelled, DecodeSettings, generate
from galactica_lsp.engine.prefix_cache import PrefixCache

PROMPT = [5, 6, 7, 8, 9]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = OPTConfig(
        vocab_size=300, hidden_size=64, num_hidden_layers=2, ffn_dim=128, num_attention_heads=4,
        max_position_embeddings=256, word_embed_proj_dim=64,
    )
    return OPTForCausalLM(config).eval()


def as_text(ids):
    return " ".join(map(str, ids))


def reference(model, **kwargs) -> list[list[int]]:
    out = model.generate(torch.tensor([PROMPT]), pad_token_id=1, eos_token_id=2, **kwargs)
    return out[:, len(PROMPT) :].tolist()


def test_greedy_equals_transformers_generate(model):
    ours = generate(model, PROMPT, DecodeSettings(max_new_tokens=12, stop_token_ids=()), as_text)
    assert [list(ours[0].token_ids)] == reference(model, max_new_tokens=12, do_sample=False)
    assert ours[0].finish_reason == "length"


def test_beam_search_equals_transformers_generate(model):
    settings = DecodeSettings(strategy="beam", num_beams=4, num_return=4, max_new_tokens=10, stop_token_ids=())
    ours = generate(model, PROMPT, settings, as_text)
    expected = reference(model, max_new_tokens=10, do_sample=False, num_beams=4, num_return_sequences=4)
    assert [list(g.token_ids) for g in ours] == expected


def test_logprobs_are_the_models_own(model):
    gen = generate(model, PROMPT, DecodeSettings(max_new_tokens=5, stop_token_ids=()), as_text)[0]
    with torch.no_grad():
        logits = model(torch.tensor([PROMPT + list(gen.token_ids)])).logits[0].float().log_softmax(-1)
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
    with pytest.raises(Cancelled):
        generate(model, BASE, DecodeSettings(max_new_tokens=50, stop_token_ids=()), as_text,
                 lambda: prefixes.lookups > 0 and prefixes.tokens > 0, prefixes, "doc")
    # The prefill was kept although the request was cancelled after it, and decoding did not write into it.
    again = _greedy(model, BASE + [64], prefixes)[0]
    assert again.reused_tokens == len(BASE)
    assert again.token_ids == _greedy(model, BASE + [64])[0].token_ids


def test_the_prefix_cache_is_bounded_by_entries_and_tokens(model):
    prefixes = PrefixCache(max_entries=2, max_tokens=100)
    for key in ("a", "b", "c"):
        _greedy(model, BASE, prefixes, key=key)
    assert prefixes.status()["entries"] == 2 and prefixes.tokens == 2 * len(BASE)
    _greedy(model, list(range(100, 170)), prefixes, key="d")  # 70 tokens: only it and nothing else fits
    assert prefixes.status()["entries"] == 1 and prefixes.tokens == 70
    _greedy(model, list(range(100, 250)), prefixes, key="e")  # over the budget on its own: not kept
    assert prefixes.tokens == 70 and prefixes.status()["entries"] == 1
