"""Will it fit? The memory estimate made before any load starts.

Owns: the estimate of weights + live KV cache + prefix cache + working memory
for a model shape, a context length and a number of parallel sequences on a
placement, the check that refuses a load that would die half-way, and the
answer to "which is the largest Galactica that fits here". Also the rule for
how much room a KV buffer gets (:func:`buffer_tokens`), which ``kv_cache``
allocates by and this plan counts by.

The live cache is what one request decodes in (one at a time: the worker
runs one job): ``sequences`` rows of a full context, room included. The
prefix cache is what stays between requests: stored prefills, whose buffers
keep their room; it is bounded by :func:`prefix_cache_tokens` counted in
buffer tokens (room included), once per engine that keeps one.
"""

from __future__ import annotations

from dataclasses import dataclass

from .attention import cache_dtype_name
from .catalogue import SIZES, CatalogueEntry, ModelShape, human_bytes
from .devices import Placement

# Memory the runtime itself needs beside the model: the CUDA context and
# allocator slack, Metal's, or the Python process with torch on a CPU.
RUNTIME_RESERVE = {"cuda": 768 * 2**20, "mps": 512 * 2**20, "cpu": 768 * 2**20}
MIN_ROOM = 64  # tokens of room a KV buffer is given beyond what it holds, at least
PREFIX_CONTEXTS = 2  # the prefix cache holds this many full contexts' buffers (a document's and a citation's)


def buffer_tokens(tokens: int, limit: int | None = None) -> int:
    """Tokens a KV buffer holding ``tokens`` is given: a quarter more (``MIN_ROOM`` at least), never past ``limit``."""
    room = tokens + max(MIN_ROOM, tokens // 4)
    return max(tokens, min(room, limit)) if limit else room


def prefix_cache_tokens(shape: ModelShape, context_tokens: int) -> int:
    """The prefix cache's bound, in buffer tokens (room included): ``PREFIX_CONTEXTS`` full contexts."""
    context_tokens = min(context_tokens, shape.max_positions)
    return PREFIX_CONTEXTS * buffer_tokens(context_tokens, shape.max_positions)


class DoesNotFitError(RuntimeError):
    """Raised before loading a model that the device's free memory cannot hold."""

    def __init__(self, message: str, plan: MemoryPlan):
        super().__init__(message)
        self.plan = plan


@dataclass(frozen=True)
class MemoryPlan:
    weights: int
    kv_cache: int  # live decoding: one request's rows, room included
    working: int  # activations of one prefill step plus the runtime reserve
    available: int  # free bytes usable for this model (summed over GPUs when it may be split)
    devices: int  # how many devices the weights would be spread over
    copies: int = 1  # engines holding their own prompt cache (2: torch and CTranslate2)
    prefix_cache: int = 0  # stored prefills kept between requests, room included, every engine's
    prefix_tokens: int = 0  # one engine's prefix-cache bound, in buffer tokens

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.prefix_cache + self.working

    @property
    def fits(self) -> bool:
        return self.total <= self.available

    def describe(self) -> str:
        where = f" over {self.devices} GPUs" if self.devices > 1 else ""
        engines = " for two engines" if self.copies > 1 else ""
        return (
            f"needs {human_bytes(self.total)}{engines} (weights {human_bytes(self.weights)}, "
            f"KV cache {human_bytes(self.kv_cache)}, prefix cache {human_bytes(self.prefix_cache)}, working {human_bytes(self.working)}), "
            f"{human_bytes(self.available)} free{where}"
        )


def kv_bytes_per_token(shape: ModelShape, placement: Placement) -> int:
    """One token's keys and values in the cache on ``placement``, in the dtype the cache keeps (``attention``)."""
    return shape.kv_bytes_per_token(cache_dtype_name(placement.kind, placement.dtype))


def estimate(
    shape: ModelShape, placement: Placement, context_tokens: int, sequences: int = 1, second_engine: float = 0.0
) -> MemoryPlan:
    """Memory for ``sequences`` parallel sequences of ``context_tokens`` each (prompt + new tokens).

    ``second_engine`` is the CTranslate2 engine's weights as a share of the
    torch model's (1, or ¼ with int8 beside float32); it also keeps its own
    prompt cache, as large as torch's.
    """
    context_tokens = min(context_tokens, shape.max_positions)
    copies = 2 if second_engine else 1
    weights = int(shape.weight_bytes(placement.dtype) * (1 + second_engine))
    per_token = kv_bytes_per_token(shape, placement)
    kv = per_token * buffer_tokens(context_tokens, shape.max_positions) * sequences
    prefix_tokens = prefix_cache_tokens(shape, context_tokens)
    prefix = per_token * prefix_tokens * copies
    element = shape.weight_bytes(placement.dtype) // max(shape.parameters, 1)
    # One prefill of the whole context: the MLP's widest activation and the
    # attention scores of one layer (eager attention's worst case) live at once.
    activations = context_tokens * (shape.ffn_dim + 4 * shape.hidden_size) * element
    activations += shape.num_heads * context_tokens * context_tokens * element
    # Log-probabilities over the vocabulary for every sequence, in float32.
    activations += sequences * shape.vocab_size * 4 * 2
    free = placement.free_bytes
    reserve = RUNTIME_RESERVE[placement.kind]
    if placement.kind == "cuda" and len(free) > 1 and weights + kv + prefix + activations + reserve > max(free):
        # The loader spreads the layers over every GPU (``opt.spread_layers``); each keeps its own reserve.
        return MemoryPlan(weights, kv, activations + reserve * len(free), sum(free), len(free), copies, prefix,
                          prefix_tokens)
    return MemoryPlan(weights, kv, activations + reserve, max(free), 1, copies, prefix, prefix_tokens)

def largest_fitting(
    placement: Placement, context_tokens: int, sequences: int = 1, second_engine: float = 0.0
) -> CatalogueEntry | None:
    fitting = [e for e in SIZES.values() if estimate(e.shape, placement, context_tokens, sequences, second_engine).fits]
    return max(fitting, key=lambda e: e.shape.parameters, default=None)


def check_fits(
    name: str, shape: ModelShape, placement: Placement, context_tokens: int, sequences: int = 1,
    second_engine: float = 0.0,
) -> MemoryPlan:
    """Return the plan, or raise :class:`DoesNotFitError` with the numbers and the largest size that fits."""
    plan = estimate(shape, placement, context_tokens, sequences, second_engine)
    if plan.fits:
        return plan
    best = largest_fitting(placement, context_tokens, sequences, second_engine)
    advice = (
        f"the largest Galactica that fits is {best.name} ({best.label})"
        if best
        else "no Galactica size fits; free memory or use another device"
    )
    message = (
        f"{name} does not fit on {placement.describe()}: it {plan.describe()}; {advice}"
        f" (or lower contextTokens/suggestions, or pick a smaller dtype)"
    )
    raise DoesNotFitError(message, plan)
