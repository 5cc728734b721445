"""The catalogue of sizes and the memory check that refuses loads that cannot fit."""

from __future__ import annotations

import pytest

from galactica_lsp.engine.catalogue import SIZES, ModelShape, human_bytes
from galactica_lsp.engine.devices import DeviceError, Placement, default_dtype, place
from galactica_lsp.engine.memory import DoesNotFitError, check_fits, estimate, largest_fitting

GiB = 2**30


@pytest.mark.parametrize("name", list(SIZES))
def test_catalogue_shapes_match_the_published_configs(size_configs, name):
    assert SIZES[name].shape == ModelShape.from_config(size_configs[name])
    assert SIZES[name].hub_id == size_configs[name]["_name_or_path"]


def test_parameter_count_matches_a_real_model_of_the_mini_shape(size_configs):
    import torch
    from transformers import OPTConfig, OPTForCausalLM

    with torch.device("meta"):  # shapes only, no memory
        model = OPTForCausalLM(OPTConfig.from_dict(size_configs["mini"]))
    assert SIZES["mini"].shape.parameters == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "name,billions", [("mini", 0.125), ("base", 1.3), ("standard", 6.7), ("large", 30), ("huge", 120)]
)
def test_parameter_counts_are_the_advertised_sizes(name, billions):
    assert SIZES[name].shape.parameters / 1e9 == pytest.approx(billions, rel=0.08)


def test_weight_and_kv_bytes_follow_the_dtype():
    shape = SIZES["standard"].shape
    assert shape.weight_bytes("float32") == 2 * shape.weight_bytes("float16")
    # 2 (K and V) × 32 layers × 4096 hidden × 2 bytes
    assert shape.kv_bytes_per_token("float16") == 2 * 32 * 4096 * 2
    assert shape.head_size == 128


def gpu(free_gib: float, count: int = 1, dtype: str = "float16") -> Placement:
    return Placement("cuda", dtype, tuple(int(free_gib * GiB) for _ in range(count)), ("GPU",) * count)


def test_a_model_that_fits_gets_a_plan():
    plan = check_fits("base", SIZES["base"].shape, gpu(24), 2048, 5)
    assert plan.fits and plan.devices == 1
    assert plan.total == plan.weights + plan.kv_cache + plan.prefix_cache + plan.working


def test_the_plan_counts_live_decoding_and_the_prefix_cache_apart_room_included():
    shape = SIZES["base"].shape  # 24 layers × 2048 wide: 196,608 bytes of keys and values a token in fp16
    per_token = 2 * 24 * 2048 * 2
    plan = estimate(shape, gpu(80), 800, 5)
    # Live decoding: 5 rows of 800 tokens, each buffer with a quarter more room: 1,000 tokens a row.
    assert plan.kv_cache == 5 * 1000 * per_token == 983_040_000
    # The prefix cache: two full contexts' buffers (1,000 tokens each), kept between requests.
    assert plan.prefix_tokens == 2000 and plan.prefix_cache == 2000 * per_token == 393_216_000
    # Small contexts get 64 tokens of room at least; a full context is capped at the model's 2,048 positions.
    assert estimate(shape, gpu(80), 100, 1).kv_cache == 164 * per_token
    assert estimate(shape, gpu(80), 2048, 1).kv_cache == 2048 * per_token
    assert estimate(shape, gpu(80), 2048, 1).prefix_tokens == 4096
    assert "prefix cache 375.0 MiB" in plan.describe()


def test_a_model_too_large_is_refused_with_the_numbers_and_the_largest_that_fits():
    with pytest.raises(DoesNotFitError) as info:
        check_fits("large", SIZES["large"].shape, gpu(24), 2048)
    message = str(info.value)
    assert "large does not fit" in message
    assert human_bytes(info.value.plan.weights) in message and "24.0 GiB free" in message
    assert "largest Galactica that fits is standard (6.7B)" in message


def test_nothing_fits_says_so():
    with pytest.raises(DoesNotFitError, match="no Galactica size fits"):
        check_fits("mini", SIZES["mini"].shape, gpu(0.5), 2048)


def test_kv_cache_grows_with_context_and_sequences():
    shape, where = SIZES["base"].shape, gpu(80)
    one = estimate(shape, where, 512, 1).kv_cache
    assert estimate(shape, where, 1024, 1).kv_cache == 2 * one  # 640 and 1,280 tokens with their room
    assert estimate(shape, where, 512, 5).kv_cache == 5 * one
    assert estimate(shape, where, 10**6, 1).kv_cache == estimate(shape, where, 2048, 1).kv_cache  # capped


def test_a_model_larger_than_one_gpu_is_split_over_several():
    shape = SIZES["large"].shape  # ~56 GiB in fp16
    assert not estimate(shape, gpu(40, count=1), 2048).fits
    plan = estimate(shape, gpu(40, count=2), 2048)
    assert plan.fits and plan.devices == 2
    assert largest_fitting(gpu(40, count=2), 2048).name == "large"


def test_cpu_placement_defaults_to_float32_and_reports_free_memory():
    where = place("cpu")
    assert where.kind == "cpu" and where.dtype == "float32" and where.free_bytes[0] > 0
    assert default_dtype("mps") == "float16"


@pytest.mark.parametrize("device,dtype,match", [("tpu", "auto", "unknown device"), ("cpu", "int3", "unknown dtype")])
def test_bad_device_or_dtype_is_explained(device, dtype, match):
    with pytest.raises(DeviceError, match=match):
        place(device, dtype)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_a_gpu_is_explained():
    with pytest.raises(DeviceError, match="not available"):
        place("cuda")
