"""Reusing the KV cache of an earlier prompt.

Owns: the prompts the model last prefilled, as token ids with their keys and
values (one row), one per key (a document, or a feature), a few keys and a
budget of buffer tokens at most (a stored prefill keeps the buffer it was
computed in, room included: that is what the memory plan counts); and, for a new prompt, the stored one that shares the
longest token prefix with it, as the keys and values of that prefix, so that
only the new tokens are fed. Typing at the end of a document, or editing in
its middle, costs the tokens after the edit, not the whole prompt.

Used on the worker thread only. Stored tensors are never written to: the
decoding loop copies a lookup's views into its own cache, writes only past the
tokens a stored view covers, and beams reorder into new buffers (see
``kv_cache``), so a stored prefill stays valid while the loop decodes from it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .kv_cache import GrowingCache


@dataclass(frozen=True)
class _Entry:
    ids: tuple[int, ...]
    layers: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # per layer: keys, values, [1, heads, len(ids), head]
    held: int  # tokens of the buffers behind the views: len(ids) plus their room


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens two id sequences share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class PrefixCache:
    """The last prefilled prompt per key; least recently used keys go first when over a bound.

    ``max_tokens`` bounds the buffer tokens held (room included), not only the prompts' tokens.
    """

    def __init__(self, max_entries: int = 4, max_tokens: int = 8192):
        self.max_entries = max_entries
        self.max_tokens = max_tokens
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.lookups = 0
        self.hits = 0
        self.reused_tokens = 0  # prompt tokens not fed again, summed over hits

    def lookup(self, ids: Sequence[int]) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]:
        """(tokens reused, per layer the keys and values of exactly them); (0, []) when no stored prompt shares any.

        At least the last token of ``ids`` is always left to feed: the next
        token's log-probabilities come from feeding it. The tensors are views
        of the stored ones: the caller copies them into its own cache.
        """
        self.lookups += 1
        best, reused = None, 0
        for key, entry in self._entries.items():
            n = min(common_prefix(entry.ids, ids), len(ids) - 1)
            if n > reused:
                best, reused = key, n
        if best is None:
            return 0, []
        self._entries.move_to_end(best)
        self.hits += 1
        self.reused_tokens += reused
        layers = self._entries[best].layers
        return reused, [(k[..., :reused, :], v[..., :reused, :]) for k, v in layers]

    def store(self, key: str, ids: Sequence[int], cache: GrowingCache) -> None:
        """Keep a one-row cache of exactly ``ids`` under ``key``, replacing what the key held."""
        layers = tuple((layer.keys, layer.values) for layer in cache.layers)
        if not layers or layers[0][0].shape[0] != 1 or layers[0][0].shape[-2] != len(ids):
            raise ValueError("a stored prefix must be one row holding exactly its prompt's tokens")
        self._entries.pop(key, None)
        held = cache.layers[0]._keys.shape[-2]  # the buffer behind the views, room included
        if held > self.max_tokens:
            return
        self._entries[key] = _Entry(tuple(ids), layers, held)
        while len(self._entries) > self.max_entries or self.held_tokens > self.max_tokens:
            self._entries.popitem(last=False)

    @property
    def tokens(self) -> int:
        """Prompt tokens stored."""
        return sum(len(e.ids) for e in self._entries.values())

    @property
    def held_tokens(self) -> int:
        """Buffer tokens the stored prompts keep alive, room included."""
        return sum(e.held for e in self._entries.values())

    def clear(self) -> None:
        """Forget every stored prompt and the counts."""
        self._entries.clear()
        self.lookups = self.hits = self.reused_tokens = 0

    def status(self) -> dict:
        return {
            "entries": len(self._entries),
            "tokens": self.tokens,
            "heldTokens": self.held_tokens,
            "maxTokens": self.max_tokens,
            "lookups": self.lookups,
            "hits": self.hits,
            "reusedTokens": self.reused_tokens,
        }
