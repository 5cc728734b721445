"""Half-precision weights on a CPU attend in float32 over a float32 cache: same masks, same answers, cache dtypes."""

from __future__ import annotations

import copy

import pytest
import torch

from galactica_lsp.engine import attention
from galactica_lsp.engine.kv_cache import GrowingCache


@pytest.fixture(scope="module")
def models(tiny_torch_engine):
    fp32 = tiny_torch_engine.loaded.model
    bf16 = copy.deepcopy(fp32).to(torch.bfloat16)
    assert attention.use_for(bf16, "cpu", "bfloat16")
    return fp32, bf16


def _chunked_logits(model, ids: torch.Tensor, chunk: int) -> torch.Tensor:
    cache = GrowingCache(model.config.num_hidden_layers, store_dtype=attention.cache_dtype(model))
    with torch.inference_mode():
        parts = [model(input_ids=ids[:, start:start + chunk], cache=cache, use_cache=True).logits[0].float()
                 for start in range(0, ids.shape[1], chunk)]
    for layer in cache.layers:
        assert layer.keys.dtype == torch.float32  # the cache keeps float32, whatever the weights
    return torch.cat(parts)


def test_a_prefill_in_chunks_after_cached_tokens_is_masked_as_one_pass(models):
    """A chunk after cached tokens sees them all and none of its own later tokens (a missing mask would not)."""
    fp32, bf16 = models
    ids = torch.randint(3, fp32.config.vocab_size, (1, 40))
    with torch.inference_mode():
        whole = bf16(input_ids=ids).logits[0].float()  # no cache: bf16 keys, transformers' own sdpa path
        exact = fp32(input_ids=ids).logits[0]
    for chunk in (1, 7, 16):
        chunked = _chunked_logits(bf16, ids, chunk)
        assert torch.allclose(chunked, whole, atol=0.15), chunk
        assert (chunked - exact).abs().max() < (whole - exact).abs().max() + 0.05


def test_only_half_weights_on_a_cpu_get_it():
    assert attention.cache_dtype_name("cpu", "bfloat16") == "float32"
    assert attention.cache_dtype_name("cpu", "float16") == "float32"
    assert attention.cache_dtype_name("cpu", "float32") == "float32"
    assert attention.cache_dtype_name("cuda", "bfloat16") == "bfloat16"
    assert attention.use_for(object(), "cuda", "bfloat16") is False
    assert attention.use_for(object(), "cpu", "float32") is False


def test_a_float32_model_keeps_its_keys_dtype_in_the_cache(models):
    fp32, _ = models
    assert attention.cache_dtype(fp32) is None


def test_the_memory_plan_counts_a_float32_cache_for_bf16_weights_on_a_cpu():
    from galactica_lsp.engine.catalogue import SIZES
    from galactica_lsp.engine.devices import Placement
    from galactica_lsp.engine.memory import estimate

    shape = SIZES["mini"].shape
    cpu, gpu = Placement("cpu", "bfloat16", (2**34,), ("CPU",)), Placement("cuda", "bfloat16", (2**34,), ("GPU",))
    assert estimate(shape, cpu, 1024).kv_cache == 2 * estimate(shape, gpu, 1024).kv_cache
