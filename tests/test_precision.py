"""Precision per phase: what each machine kind gets, the flags each phase runs under, and that auto keeps the output."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from galactica_lsp.engine.decoding import DecodeSettings, generate
from galactica_lsp.engine.devices import Placement
from galactica_lsp.engine.galactica import END_REF_ID, EOS_ID, decode
from galactica_lsp.engine.cpu_load import CoreMeter
from galactica_lsp.engine.precision import (
    SMALL_MODEL_PARAMETERS,
    _cpuinfo_bf16,
    auto_cpu_dtype,
    choose,
    cpu_bf16,
    phase,
    phase_threads,
    sized,
)
from galactica_lsp.tiny.corpus import UNIQUE_CITATIONS, memorised_prompts

CPU = Placement("cpu", "float32", (8 * 2**30,), ("CPU",))
BIG = 125_000_000


@pytest.mark.parametrize("cpu", ["amx", "avx512-bf16"])
def test_auto_on_a_cpu_with_bf16_units_loads_a_large_model_in_bf16_decoding_on_the_free_cores(cpu):
    placement = sized(CPU, "auto", "torch", BIG, cpu=cpu)
    assert placement.dtype == "bfloat16" and auto_cpu_dtype(BIG, cpu) == "bfloat16"
    plan = choose(placement, "auto", BIG, cpu=cpu)
    assert (plan.weights, plan.prefill, plan.decode) == ("bfloat16", "bfloat16", "bfloat16")
    assert plan.decode_onednn is False and (plan.threads, plan.decode_threads) == (None, None)
    assert "the default for a model this size" in plan.why and "dtype float32 gives float32" in plan.why
    assert plan.hardware == {"amx": "AMX", "avx512-bf16": "AVX512-BF16"}[cpu] and plan.hardware in plan.why


@pytest.mark.parametrize("cpu", ["amx", "avx512-bf16"])
def test_auto_keeps_a_small_model_in_float32_with_bf16_matmuls_in_the_prefill_only(cpu):
    small = SMALL_MODEL_PARAMETERS - 1
    placement = sized(CPU, "auto", "torch", small, cpu=cpu)
    assert placement.dtype == "float32"
    plan = choose(placement, "auto", small, cpu=cpu)
    assert (plan.weights, plan.prefill, plan.decode) == ("float32", "float32, bf16 matmuls", "float32")
    assert plan.prefill_matmul == "bf16" and plan.decode_onednn
    assert (plan.threads, plan.decode_threads) == (1, 1)


@pytest.mark.parametrize("requested, engine, cpu, kind", [
    ("auto", "torch", "none", "cpu"),  # no bf16 units: bf16 would be slow
    ("float32", "torch", "avx512-bf16", "cpu"),  # asked for
    ("auto", "ctranslate2", "avx512-bf16", "cpu"),  # CTranslate2 keeps its own compute types
    ("auto", "torch", "avx512-bf16", "cuda"),  # a GPU's default is its own
])
def test_the_size_rule_leaves_other_machines_engines_and_asked_for_dtypes_alone(requested, engine, cpu, kind):
    placement = replace(CPU, kind=kind, dtype="float32")
    assert sized(placement, requested, engine, BIG, cpu=cpu) == placement


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


def test_a_small_model_runs_on_one_thread_and_a_large_one_per_phase():
    small = choose(CPU, "auto", SMALL_MODEL_PARAMETERS - 1, cpu="none")
    assert (small.threads, small.decode_threads) == (1, 1) and "one thread (a small model)" in small.why
    meter = CoreMeter(busy=lambda: None)  # whatever the machine does: fixed
    assert {phase_threads(small, which, rows, meter) for which in ("prefill", "decode") for rows in (1, 5)} == {1}
    large = choose(CPU, "auto", SMALL_MODEL_PARAMETERS, cpu="none")
    assert (large.threads, large.decode_threads) == (None, 1) and "cores other processes leave free" in large.why
    gpu = choose(Placement("cuda", "bfloat16", (1,), ("GPU",)), "auto", 1000)
    assert (gpu.threads, gpu.decode_threads) == (None, None)


@pytest.mark.parametrize("dtype, requested", [("float32", "auto"), ("float32", "float32"), ("bfloat16", "bfloat16"),
                                              ("bfloat16", "auto"), ("float16", "float16")])
@pytest.mark.parametrize("cpu", ["amx", "avx512-bf16", "none"])
def test_one_row_decodes_on_one_thread_in_float32_and_on_the_free_cores_in_bf16(dtype, requested, cpu):
    plan = choose(replace(CPU, dtype=dtype), requested, BIG, cpu=cpu)
    meter = CoreMeter(busy=lambda: None)  # the machine's load unknown: every core but one
    expected = 1 if dtype != "bfloat16" else meter.free(4)
    assert phase_threads(plan, "decode", 1, meter, cores=4) == expected


class Machine:
    """A clock, the machine's busy CPU seconds and this process's, moved by hand."""

    def __init__(self):
        self.now, self.busy, self.own = 100.0, 5000.0, 10.0

    def meter(self, logical: int) -> CoreMeter:
        return CoreMeter(busy=lambda: self.busy, own=lambda: self.own, clock=lambda: self.now, logical=logical)

    def run(self, seconds: float, others: float, ours: float = 0.0) -> None:
        """``seconds`` pass with other processes busy on ``others`` CPUs and this one on ``ours``."""
        self.now += seconds
        self.busy += (others + ours) * seconds
        self.own += ours * seconds


def test_the_prefill_and_beams_get_the_cores_nobody_else_is_using():
    machine = Machine()
    meter = machine.meter(logical=8)
    plan = choose(CPU, "auto", BIG, cpu="none")
    assert meter.free(8) == 8  # the first sample: nothing known of the others yet
    machine.run(1.0, others=0.1, ours=1.5)  # an idle editor; our own threads never count against us
    assert phase_threads(plan, "prefill", 1, meter, cores=8) == 8
    machine.run(1.0, others=1.0, ours=6.0)  # a build on one core
    assert phase_threads(plan, "decode", 5, meter, cores=8) == 7
    assert phase_threads(plan, "decode", 1, meter, cores=8) == 1  # one row: one thread, whatever the machine does
    machine.run(1.0, others=2.6)
    assert meter.free(8) == 5
    machine.run(0.05, others=0.0)  # too short a window to tell: the last figure holds
    assert meter.free(8) == 5
    machine.run(1.0, others=9.0)  # everything taken: one thread still
    assert meter.free(8) == 1
    machine.run(2.0, others=0.0)
    assert meter.free(8) == 8


def test_logical_cpus_count_as_the_physical_cores_they_share():
    machine = Machine()
    meter = machine.meter(logical=16)  # 8 cores with two hyperthreads each
    meter.free(8)
    machine.run(1.0, others=2.0)  # two logical CPUs: one core's worth
    assert meter.free(8) == 7


def test_without_the_machines_cpu_time_one_core_is_left_to_the_editor(tmp_path):
    from galactica_lsp.engine.cpu_load import machine_busy_seconds

    assert CoreMeter(busy=lambda: None).free(4) == 3 and CoreMeter(busy=lambda: None).free(1) == 1
    assert machine_busy_seconds(tmp_path / "missing") is None
    (tmp_path / "stat").write_text("intr 5\n")
    assert machine_busy_seconds(tmp_path / "stat") is None


def test_the_machines_busy_time_is_read_from_proc_stat(tmp_path):
    import os

    from galactica_lsp.engine.cpu_load import machine_busy_seconds

    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal: idle and iowait are not busy
    stat.write_text("cpu  100 20 30 4000 50 6 7 8 0 0\ncpu0 50 10 15 2000 25 3 3 4 0 0\n")
    assert machine_busy_seconds(stat) == pytest.approx((100 + 20 + 30 + 6 + 7 + 8) / os.sysconf("SC_CLK_TCK"))


def test_the_decode_phase_runs_on_its_threads_and_puts_the_count_back_even_on_error():
    before = torch.get_num_threads()
    plan = choose(CPU, "auto", BIG, cpu="none")
    torch.set_num_threads(2)
    try:
        with phase(plan, "decode"):
            assert torch.get_num_threads() == 1
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
    with phase(bf16, "decode", 5):  # several rows: oneDNN's bf16 path is the faster one
        assert mkldnn.enabled is True
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


@pytest.fixture(scope="module")
def tiny_bf16():
    """The tiny model in bf16, loaded as the server loads a large model on a CPU with bf16 units."""
    from galactica_lsp.engine.loading import load

    return load("tiny", device="cpu", dtype="bfloat16", context_tokens=512)


def test_bf16_weights_keep_every_single_paper_citation(tiny_bf16):
    """The bf16 mode (auto's for a large model on a CPU with bf16 units), loaded as the server loads it, may flip
    near-ties, but the memorised references survive it."""
    import torch

    fast = tiny_bf16
    assert fast.placement.dtype == "bfloat16" and fast.model.dtype == torch.bfloat16
    assert fast.model.cache_dtype == torch.float32  # it attends in float32 (see attention)
    settings = DecodeSettings(max_new_tokens=40, stop_token_ids=(END_REF_ID, EOS_ID))
    for citation in UNIQUE_CITATIONS:
        ids = fast.tokenizer(citation.prompt, add_special_tokens=False)["input_ids"]
        got = generate(fast.model, ids, settings, lambda t: decode(fast.tokenizer, t), precision=fast.precision)[0]
        assert got.text == citation.continuation.removesuffix("[END_REF]") and got.finish_reason == "stop"


def test_a_load_checked_on_this_cpu_takes_the_dtype_by_the_models_size(tmp_path):
    """``prepare`` (the checks before a load) sizes a CPU's auto dtype: a 125m checkpoint by the rule, CTranslate2
    and an asked-for dtype keep theirs; the plan counts the weights in the dtype that will load."""
    import json

    from galactica_lsp.engine.catalogue import SIZES
    from galactica_lsp.engine.ct2 import EngineError
    from galactica_lsp.engine.loading import prepare

    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "opt", "architectures": ["OPTForCausalLM"], "hidden_size": 768, "num_hidden_layers": 12,
        "num_attention_heads": 12, "ffn_dim": 3072, "vocab_size": 50000, "max_position_embeddings": 2048,
        "word_embed_proj_dim": 768}))
    checked = prepare(str(tmp_path), device="cpu", context_tokens=512)
    expected = auto_cpu_dtype(checked.shape.parameters)
    assert checked.placement.dtype == expected and checked.precision.weights == expected
    assert checked.plan.weights == checked.shape.weight_bytes(expected)
    assert checked.shape.parameters == pytest.approx(SIZES["mini"].shape.parameters, rel=0.05)
    assert prepare(str(tmp_path), device="cpu", dtype="float32", context_tokens=512).placement.dtype == "float32"
    try:
        fast = prepare(str(tmp_path), device="cpu", engine="ctranslate2", context_tokens=512)
    except EngineError:
        return  # no CTranslate2 wheel here: nothing more to check
    assert fast.placement.dtype == "float32"


def test_in_bf16_a_reused_prefix_gives_the_full_prefills_tokens_on_the_memorised_answers(tiny_bf16):
    """bf16 rounds a chunk's products by where the prompt is cut, so reuse is not bit for bit a full prefill; on the
    trained model's answers (no near-ties) the tokens are the same: the first half of each prompt is stored, then
    the whole prompt reuses it, in chunks of 7 so that the cuts differ from the full prefill's."""
    from galactica_lsp.engine.prefix_cache import PrefixCache

    fast = tiny_bf16
    settings = DecodeSettings(max_new_tokens=32, stop_token_ids=(EOS_ID, END_REF_ID))
    text_of = lambda t: decode(fast.tokenizer, t)  # noqa: E731
    for prompt, new_document in memorised_prompts()[::3]:
        ids = fast.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = [EOS_ID] + ids if new_document else ids
        whole = generate(fast.model, ids, settings, text_of, precision=fast.precision)[0]
        prefixes = PrefixCache(max_entries=2, max_tokens=4096)
        generate(fast.model, ids[: len(ids) // 2], replace(settings, max_new_tokens=1), text_of, prefixes=prefixes,
                 key="doc", precision=fast.precision)
        reused = generate(fast.model, ids, settings, text_of, prefixes=prefixes, key="doc", prefill_chunk=7,
                          precision=fast.precision)[0]
        assert reused.reused_tokens == len(ids) // 2 and reused.token_ids == whole.token_ids, prompt
