"""Attention for half-precision weights on a CPU: in float32, over a float32 KV cache.

Owns: :data:`NAME`, an attention function registered with transformers'
``AttentionInterface``; :func:`use_for`, which turns it on for a model placed
on a CPU in bfloat16 or float16; and :func:`cache_dtype` /
:func:`cache_dtype_name`, the dtype the KV cache keeps for such a model (the
cache and the memory plan both ask here, so they agree).

With bf16 weights on a CPU, torch's scaled-dot-product attention for one
query row (a decoding step) takes its bf16 flash kernel, which was 3× slower
than the same attention in float32 here (galactica-125m's heads over 600
cached tokens, two threads: 420 µs against 58 µs; five beam rows 2067
against 531 µs with casts). Casting the cached keys and values at every step
cost 2 ms of a 15 ms step, so the cache keeps them in float32 (the new
token's are cast once, when written) and the query is cast to float32: the
attention, softmax included, runs in float32, and its output goes back to the
weights' dtype for the projection. The KV cache takes twice the bytes of a
bf16 one; the memory plan counts that. GPUs keep their own kernels and
caches: this is only set for CPUs.

transformers and torch are imported by :func:`use_for` and :func:`cache_dtype`, not by importing this module.
"""

from __future__ import annotations

NAME = "galactica_cpu_sdpa"
_HALF = ("bfloat16", "float16")

_registered = False


def in_cache_dtype(module, query, key, value, attention_mask, **kwargs):
    """transformers' sdpa attention in the keys' dtype (the cache's: float32), the output in the query's."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if key.dtype == query.dtype:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    mask = attention_mask
    if mask is not None and mask.is_floating_point():
        mask = mask.to(key.dtype)
    output, weights = sdpa_attention_forward(module, query.to(key.dtype), key, value.to(key.dtype), mask, **kwargs)
    return output.to(query.dtype), weights


def cache_dtype_name(kind: str, dtype: str) -> str:
    """The dtype the KV cache keeps for weights in ``dtype`` on ``kind``: float32 for half weights on a CPU."""
    return "float32" if kind == "cpu" and dtype in _HALF else dtype


def cache_dtype(model):
    """The torch dtype a cache for ``model`` keeps its keys and values in: None for the keys' own."""
    import torch

    return torch.float32 if getattr(model.config, "_attn_implementation", None) == NAME else None


def use_for(model, kind: str, dtype: str) -> bool:
    """Give ``model`` (placed on ``kind`` in ``dtype``) this attention where it is the faster one; True if it was."""
    global _registered
    if cache_dtype_name(kind, dtype) == dtype:
        return False
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    if not _registered:
        AttentionInterface.register(NAME, in_cache_dtype)
        # The same masks as sdpa's: a name without a mask function gets no mask at all, and a prefill chunk after
        # cached tokens would then be masked as if it started the sequence.
        AttentionMaskInterface.register(NAME, sdpa_mask)
        _registered = True
    model.set_attn_implementation(NAME)
    return True
