"""Precision per phase: what each machine kind gets, the flags each phase runs under, and that auto keeps the output."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from galactica_lsp.engine.decoding import DecodeSettings, generate
from galactica_lsp.engine.devices import Placement
from galactica_lsp.engine.galactica import END_REF_ID, EOS_ID, decode
from galactica_lsp.engine.precision import (
    SMALL_MODEL_PARAMETERS,
    _cpuinfo_bf16,
    choose,
    cpu_bf16,
    default_threads,
    phase,
    prefill_threads,
)
from galactica_lsp.tiny.corpus import UNIQUE_CITATIONS, memorised_prompts

CPU = Placement("cpu", "float32", (8 * 2**30,), ("CPU",))
BIG = 125_000_000


@pytest.mark.parametrize("cpu", ["amx", "avx512-bf16"])
def test_auto_on_a_cpu_with_bf16_units_allows_bf16_matmuls_in_the_prefill_only(cpu):
    plan = choose(CPU, "auto", BIG, cpu=cpu)
    assert (plan.weights, plan.prefill, plan.decode) == ("float32", "float32, bf16 matmuls", "float32")
    assert plan.prefill_matmul == "bf16" and plan.decode_onednn
    assert (plan.threads, plan.decode_threads) == (prefill_threads(), 1)
    assert plan.hardware == {"amx": "AMX", "avx512-bf16": "AVX512-BF16"}[cpu] and plan.hardware in plan.why


def test_auto_on_a_cpu_without_bf16_units_is_float32_throughout_and_says_why():
    plan = choose(CPU, "auto", BIG, cpu="none")
    assert (plan.prefill, plan.decode, plan.prefill_matmul) == ("float32", "float32", "none")
    assert "no bf16 units" in plan.why


def test_dtype_float32_overrides_the_bf16_prefill():
    plan = choose(CPU, "float32", BIG, cpu="amx")
    assert (plan.prefill, plan.prefill_matmul) == ("float32", "none") and "asked for" in plan.why


@pytest.mark.parametrize("cpu, slow", [("avx512-bf16", False), ("none", True)])
def test_dtype_bfloat16_is_the_fast_mode_by_name_with_onednn_off_while_decoding(cpu, slow):
    plan = choose(replace(CPU, dtype="bfloat16"), "bfloat16", BIG, cpu=cpu)
    assert (plan.weights, plan.prefill, plan.decode) == ("bfloat16", "bfloat16", "bfloat16")
    assert plan.decode_onednn is False and "may differ" in plan.why
    assert ("no bf16 units: slow" in plan.why) is slow


@pytest.mark.parametrize("dtype, why", [("bfloat16", "default"), ("float16", "no bf16 support")])
def test_a_gpu_runs_both_phases_in_its_half_precision(dtype, why):
    plan = choose(Placement("cuda", dtype, (2**34,), ("H100",)), "auto", BIG)
    assert (plan.weights, plan.prefill, plan.decode, plan.threads) == (dtype, dtype, dtype, None)
    assert why in plan.why and plan.hardware == "H100"


def test_a_small_model_runs_on_one_thread_and_a_large_one_prefills_on_every_core_but_one():
    small = choose(CPU, "auto", SMALL_MODEL_PARAMETERS - 1, cpu="none")
    assert (small.threads, small.decode_threads) == (1, 1) and "one thread (a small model)" in small.why
    large = choose(CPU, "auto", SMALL_MODEL_PARAMETERS, cpu="none")
    assert (large.threads, large.decode_threads) == (max(1, default_threads() - 1), 1)
    assert "decoding on one" in large.why
    gpu = choose(Placement("cuda", "bfloat16", (1,), ("GPU",)), "auto", 1000)
    assert (gpu.threads, gpu.decode_threads) == (None, None)


@pytest.mark.parametrize("dtype, requested", [("float32", "auto"), ("float32", "float32"), ("bfloat16", "bfloat16"),
                                              ("float16", "float16")])
@pytest.mark.parametrize("cpu", ["amx", "avx512-bf16", "none"])
def test_every_cpu_plan_decodes_on_one_thread(dtype, requested, cpu):
    assert choose(replace(CPU, dtype=dtype), requested, BIG, cpu=cpu).decode_threads == 1


@pytest.mark.parametrize("cores, expected", [(1, 1), (2, 1), (4, 3), (16, 15)])
def test_the_prefill_leaves_one_core_to_the_editor(cores, expected):
    assert prefill_threads(cores) == expected


def test_the_decode_phase_runs_on_its_threads_and_puts_the_count_back_even_on_error():
    before = torch.get_num_threads()
    plan = replace(choose(CPU, "auto", BIG, cpu="none"), decode_threads=1)
    torch.set_num_threads(2)
    try:
        with phase(plan, "decode"):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with phase(plan, "prefill"):
            assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), phase(plan, "decode"):
            raise RuntimeError("a failing step")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse avx512f avx512_bf16 avx512_vnni", "avx512-bf16"),
    ("fpu avx512f avx512_bf16 amx_bf16 amx_tile amx_int8", "amx"),
    ("fpu sse avx2", "none"),
])
def test_cpuinfo_flags_name_the_bf16_units(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert _cpuinfo_bf16(cpuinfo) == expected
    assert _cpuinfo_bf16(tmp_path / "missing") == "none"


def test_each_phase_sets_the_onednn_flags_and_puts_them_back_even_on_error():
    mkldnn = torch.backends.mkldnn
    before = (mkldnn.enabled, mkldnn.matmul.fp32_precision)
    bf16 = choose(replace(CPU, dtype="bfloat16"), "bfloat16", BIG, cpu="avx512-bf16")
    mixed = choose(CPU, "auto", BIG, cpu="avx512-bf16")
    with phase(mixed, "prefill"):
        assert (mkldnn.enabled, mkldnn.matmul.fp32_precision) == (True, "bf16")
    with phase(mixed, "decode"):
        assert (mkldnn.enabled, mkldnn.matmul.fp32_precision) == (True, "none")
    with pytest.raises(RuntimeError), phase(bf16, "decode"):
        assert mkldnn.enabled is False
        raise RuntimeError("a failing step")
    assert (mkldnn.enabled, mkldnn.matmul.fp32_precision) == before


def test_cpu_detection_answers_one_of_the_kinds():
    assert cpu_bf16() in ("amx", "avx512-bf16", "none")


@pytest.fixture(scope="module")
def loaded(tiny_torch_engine):
    return tiny_torch_engine.loaded


def test_the_loaded_model_says_what_it_picked_and_why(tiny_torch_engine):
    status = tiny_torch_engine.status()["precision"]
    expected = choose(CPU, "auto", tiny_torch_engine.loaded.shape.parameters)
    assert status == expected.status() and (status["threads"], status["decode_threads"]) == (1, 1)  # small
    assert status["why"] and status["hardware"] in ("AMX", "AVX512-BF16", "no bf16 units")


def test_bf16_prefill_keeps_every_memorised_greedy_answer_token_for_token(loaded):
    """The auto mode of a bf16 CPU (forced here, whatever this CPU has) against float32 on the whole memorised set."""
    mixed = choose(CPU, "auto", BIG, cpu="avx512-bf16")
    settings = DecodeSettings(max_new_tokens=48, stop_token_ids=(EOS_ID, END_REF_ID))
    text_of = lambda t: decode(loaded.tokenizer, t)  # noqa: E731
    for prompt, new_document in memorised_prompts():
        ids = loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = [EOS_ID] + ids if new_document else ids
        exact = generate(loaded.model, ids, settings, text_of)[0]
        ours = generate(loaded.model, ids, settings, text_of, precision=mixed)[0]
        assert ours.token_ids == exact.token_ids, prompt
        assert ours.logprobs == pytest.approx(exact.logprobs, abs=1e-2)


def test_bf16_weights_keep_every_single_paper_citation(loaded):
    """The fast mode may flip near-ties, but the memorised references survive it."""
    model = type(loaded.model).from_pretrained(loaded.directory, dtype=torch.bfloat16).eval()
    fast = choose(replace(CPU, dtype="bfloat16"), "bfloat16", BIG, cpu="avx512-bf16")
    settings = DecodeSettings(max_new_tokens=40, stop_token_ids=(END_REF_ID, EOS_ID))
    for citation in UNIQUE_CITATIONS:
        ids = loaded.tokenizer(citation.prompt, add_special_tokens=False)["input_ids"]
        got = generate(model, ids, settings, lambda t: decode(loaded.tokenizer, t), precision=fast)[0]
        assert got.text == citation.continuation.removesuffix("[END_REF]") and got.finish_reason == "stop"
