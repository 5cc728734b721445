"""Half-precision weights on a CPU attend in float32 over a float32 cache: same masks, same answers, cache dtypes."""

from __future__ import annotations

import pytest
import torch

from galactica_lsp.engine import attention, opt
from galactica_lsp.tiny import TINY_MODEL_DIR


@pytest.fixture(scope="module")
def models():
    return opt.load(TINY_MODEL_DIR, "cpu", torch.float32), opt.load(TINY_MODEL_DIR, "cpu", torch.bfloat16)


def _chunked_logits(model, ids: torch.Tensor, chunk: int) -> torch.Tensor:
    """Each position's logits, fed ``chunk`` tokens a pass into one cache."""
    cache = model.new_cache()
    parts = []
    for end in range(1, ids.shape[1] + 1):  # the last position's logits of every prefix, chunk by chunk
        if end % chunk == 0 or end == ids.shape[1]:
            start = cache.get_seq_length()
            parts.append(_every_position(model, ids[:, start:end], cache))
    for layer in cache.layers:
        assert layer.keys.dtype == torch.float32  # the cache keeps float32, whatever the weights
    return torch.cat(parts)


def _every_position(model, ids: torch.Tensor, cache) -> torch.Tensor:
    """Logits of each of ``ids``' positions: the chunk fed at once, then its positions read one by one."""
    past = cache.get_seq_length()
    last = model(ids, cache)[0].float()  # the chunk in one pass, into the cache
    rows = []
    for i in range(ids.shape[1]):  # each position again, over a copy holding the tokens before it
        probe = model.new_cache([(layer.keys[:, :, : past + i], layer.values[:, :, : past + i]) for layer in cache.layers])
        rows.append(model(ids[:, i : i + 1], probe)[0].float())
    assert torch.allclose(last, rows[-1], atol=0.1)  # the chunk's own answer is its last position's
    return torch.stack(rows)


def test_a_prefill_in_chunks_after_cached_tokens_is_masked_as_one_pass(models):
    """A chunk after cached tokens sees them all and none of its own later tokens (a missing mask would not)."""
    fp32, bf16 = models
    ids = torch.randint(3, fp32.config.shape.vocab_size, (1, 40), generator=torch.Generator().manual_seed(0))
    exact = _chunked_logits(fp32, ids, 40)
    for chunk in (1, 7, 16):
        assert torch.allclose(_chunked_logits(fp32, ids, chunk), exact, atol=1e-4), chunk
        assert torch.allclose(_chunked_logits(bf16, ids, chunk), exact, atol=0.15), chunk


def test_only_half_weights_on_a_cpu_get_it():
    assert attention.cache_dtype_name("cpu", "bfloat16") == "float32"
    assert attention.cache_dtype_name("cpu", "float16") == "float32"
    assert attention.cache_dtype_name("cpu", "float32") == "float32"
    assert attention.cache_dtype_name("cuda", "bfloat16") == "bfloat16"
    assert attention.cache_dtype_for("cpu", torch.bfloat16) is torch.float32
    assert attention.cache_dtype_for("cuda", torch.bfloat16) is None
    assert attention.cache_dtype_for("cpu", torch.float32) is None


def test_the_models_cache_follows_it(models):
    fp32, bf16 = models
    assert fp32.cache_dtype is None and bf16.cache_dtype is torch.float32
    cache = fp32.new_cache()
    fp32(torch.tensor([[5, 6, 7]]), cache)
    assert cache.layers[0].keys.dtype == torch.float32 and cache.get_seq_length() == 3


def test_the_memory_plan_counts_a_float32_cache_for_bf16_weights_on_a_cpu():
    from galactica_lsp.engine.catalogue import SIZES
    from galactica_lsp.engine.devices import Placement
    from galactica_lsp.engine.memory import estimate

    shape = SIZES["mini"].shape
    cpu, gpu = Placement("cpu", "bfloat16", (2**34,), ("CPU",)), Placement("cuda", "bfloat16", (2**34,), ("GPU",))
    assert estimate(shape, cpu, 1024).kv_cache == 2 * estimate(shape, gpu, 1024).kv_cache
