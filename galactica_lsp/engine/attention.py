"""Attention for half-precision weights on a CPU: in float32, over a float32 KV cache.

Owns: the dtype the KV cache keeps for weights placed on a kind of device,
:func:`cache_dtype_name` (for the memory plan, by name) and
:func:`cache_dtype_for` (for the forward pass, ``opt``), so that the cache and
the plan agree.

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

torch is imported by :func:`cache_dtype_for`, not by importing this module (the memory plan runs without it).
"""

from __future__ import annotations

_HALF = ("bfloat16", "float16")


def cache_dtype_name(kind: str, dtype: str) -> str:
    """The dtype the KV cache keeps for weights in ``dtype`` on ``kind``: float32 for half weights on a CPU."""
    return "float32" if kind == "cpu" and dtype in _HALF else dtype


def cache_dtype_for(kind: str, dtype):
    """The torch dtype a cache keeps for torch-dtype weights on ``kind``; None: the keys' own."""
    import torch

    name = str(dtype).removeprefix("torch.")
    return torch.float32 if cache_dtype_name(kind, name) != name else None
