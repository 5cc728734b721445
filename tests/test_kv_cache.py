"""The KV cache that grows in place: the same keys and values as transformers' DynamicCache, no shared writes."""

from __future__ import annotations

import torch
from transformers import DynamicCache

from galactica_lsp.engine.kv_cache import MIN_ROOM, GrowingCache


def kv(rows: int, tokens: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, 2, tokens, 4, generator=g), torch.randn(rows, 2, tokens, 4, generator=g)


def same(ours: DynamicCache, theirs: DynamicCache) -> bool:
    return all(
        torch.equal(a.keys, b.keys) and torch.equal(a.values, b.values) and a.get_seq_length() == b.get_seq_length()
        for a, b in zip(ours.layers, theirs.layers, strict=True)
    )


def test_updates_reorders_and_crops_match_the_dynamic_cache_past_the_room():
    ours, theirs = GrowingCache(2), DynamicCache()
    steps = [kv(1, 30, 0)] + [kv(1, 1, s) for s in range(1, MIN_ROOM + 40)]  # prefill, then more tokens than the room
    for i, (k, v) in enumerate(steps):
        for layer in range(2):
            ours.update(k, v, layer)
            theirs.update(k, v, layer)
        assert same(ours, theirs)
        if i == 3:
            fan_out = torch.tensor([0, 0, 0])
            ours.reorder_cache(fan_out)
            theirs.reorder_cache(fan_out)
            steps[i + 1 :] = [(k.expand(3, -1, -1, -1), v.expand(3, -1, -1, -1)) for k, v in steps[i + 1 :]]
        if i == 10:
            ours.reorder_cache(torch.tensor([2, 0, 0]))
            theirs.reorder_cache(torch.tensor([2, 0, 0]))
    assert same(ours, theirs)
    ours.crop(-5)
    theirs.crop(-5)
    assert same(ours, theirs)
    k, v = kv(3, 1, 99)
    ours.update(k, v, 0)
    theirs.update(k, v, 0)
    assert torch.equal(ours.layers[0].keys, theirs.layers[0].keys)


def test_a_view_taken_earlier_keeps_its_values_while_the_cache_grows_and_reorders():
    cache = GrowingCache(1)
    cache.update(*kv(1, 20, 0), 0)
    stored = cache.layers[0].keys
    before = stored.clone()
    for s in range(1, 100):  # writes past the view, then a reallocation
        cache.update(*kv(1, 1, s), 0)
    cache.reorder_cache(torch.tensor([0, 0]))
    cache.crop(-50)
    cache.update(*kv(2, 3, 7), 0)  # after a crop, the next write must not land in the viewed buffer
    assert torch.equal(stored, before)


def test_a_prefix_is_copied_in_not_shared():
    keys, values = kv(1, 8, 0)
    original = keys.clone()
    cache = GrowingCache(1, [(keys, values)])
    cache.update(*kv(1, 1, 1), 0)
    assert cache.get_seq_length() == 9 and torch.equal(keys, original)
    assert torch.equal(cache.layers[0].keys[:, :, :8], original)


def test_the_room_never_passes_the_models_positions():
    cache = GrowingCache(1, limit=100)
    cache.update(*kv(1, 90, 0), 0)
    assert cache.layers[0]._keys.shape[-2] == 100
    for s in range(1, 11):
        cache.update(*kv(1, 1, s), 0)
    assert cache.get_seq_length() == 100 and cache.layers[0]._keys.shape[-2] == 100
