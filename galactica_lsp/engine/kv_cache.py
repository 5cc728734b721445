"""A KV cache that grows in place.

Owns: per layer, one buffer of keys and one of values with room past the
tokens they hold; a new token is written into the room instead of
concatenated. transformers' ``DynamicLayer`` concatenates, which copies the
whole cache at every step, every layer: for five beam rows over a 500-token
prompt that was a fifth of the decoding time on a CPU.

The keys and values the model sees are views of the buffers' first tokens.
Writes land only past the tokens a view covers, and every change of rows
(beam reordering, fanning one prefill out to N rows) gathers into new buffers,
so a view taken earlier (a stored prefill, see ``prefix_cache``) keeps its
values while decoding goes on.

Plain torch: the forward pass (``opt``) writes it, and nothing here imports
transformers (that import alone took seconds of the server's start-up). The
method names are ``DynamicCache``'s, and ``tests/test_kv_cache.py`` checks it
against that class.
"""

from __future__ import annotations

import torch

from .memory import MIN_ROOM, buffer_tokens  # noqa: F401 (MIN_ROOM re-exported): the room rule the plan counts by


class GrowingLayer:
    """One layer's keys and values, ``[rows, heads, tokens, head size]`` views of bigger buffers."""

    def __init__(self, limit: int | None = None, store_dtype: torch.dtype | None = None):
        self.limit = limit  # the most tokens a buffer is given room for (the model's positions)
        self.store_dtype = store_dtype  # what the buffers hold (new keys are cast when written); None: the keys' own
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None
        self.length = 0

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor):
        """Append ``[rows, heads, tokens, head size]`` keys and values; the views of every token held so far."""
        start, end = self.length, self.length + key_states.shape[-2]
        if self._keys is None or end > self._keys.shape[-2] or self._keys.shape[0] != key_states.shape[0]:
            self._reallocate(end, key_states)
        self._keys[:, :, start:end] = key_states
        self._values[:, :, start:end] = value_states
        self._view(end)
        return self.keys, self.values

    def _reallocate(self, needed: int, like: torch.Tensor) -> None:
        """New buffers with room for ``needed`` tokens and more, holding what the old ones held."""
        rows, heads, _, size = like.shape
        dtype = self.store_dtype or like.dtype
        keys = like.new_empty(rows, heads, buffer_tokens(needed, self.limit), size, dtype=dtype)
        values = like.new_empty(rows, heads, buffer_tokens(needed, self.limit), size, dtype=dtype)
        if self.length:
            keys[:, :, : self.length] = self.keys
            values[:, :, : self.length] = self.values
        self._keys, self._values = keys, values

    def _view(self, length: int) -> None:
        self.length = length
        self.keys = self._keys[:, :, :length]
        self.values = self._values[:, :, :length]

    def get_seq_length(self) -> int:
        return self.length

    def crop(self, tokens_to_remove: int) -> None:
        """Drop the last ``-tokens_to_remove`` tokens (a negative count, as ``DynamicCache.crop`` takes it)."""
        if tokens_to_remove > 0:
            raise ValueError("crop takes a negative count: the number of tokens to remove")
        if tokens_to_remove and self.length:
            # New buffers: the old ones may be seen by a stored prefill past the new end.
            kept = self.length - abs(tokens_to_remove)
            keys, values = self.keys[:, :, :kept], self.values[:, :, :kept]
            self._keys = self._values = None
            self.length = 0
            self.update(keys, values)

    def reorder_cache(self, rows: torch.Tensor) -> None:
        """Keep (and copy) buffer rows, room included: one copy, into new buffers."""
        if self.length:
            self._keys = self._keys.index_select(0, rows.to(self._keys.device))
            self._values = self._values.index_select(0, rows.to(self._values.device))
            self._view(self.length)


class GrowingCache:
    """Every layer's :class:`GrowingLayer`; ``prefix`` fills it with earlier keys and values (copied).

    ``limit`` (the model's positions) caps the room, so the cache never holds
    more than the memory plan counted for a full context. ``store_dtype`` is
    what the buffers hold (``attention.cache_dtype``: float32 for half weights
    on a CPU); None keeps the keys' own dtype.
    """

    def __init__(self, layers: int, prefix: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
                 limit: int | None = None, store_dtype: torch.dtype | None = None):
        self.layers = [GrowingLayer(limit, store_dtype) for _ in range(layers)]
        for layer, (keys, values) in zip(self.layers, prefix or []):
            layer.update(keys, values)

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int):
        return self.layers[layer_idx].update(key_states, value_states)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.layers[layer_idx].get_seq_length()

    def reorder_cache(self, rows: torch.Tensor) -> None:
        for layer in self.layers:
            layer.reorder_cache(rows)

    def crop(self, max_length: int) -> None:
        """As ``DynamicCache.crop``: a negative count drops that many tokens, a positive one keeps that many."""
        for layer in self.layers:
            remove = max_length if max_length < 0 else -max(layer.length - max_length, 0)
            layer.crop(remove)
