"""The server's own OPT forward pass: transformers' OPTForCausalLM's logits on the same weights, read from any checkpoint layout."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file
from transformers import OPTConfig, OPTForCausalLM

from galactica_lsp.engine import opt
from galactica_lsp.engine.opt import OPT, Architecture, CheckpointError, spread_layers
from galactica_lsp.tiny import TINY_MODEL_DIR

SMALL = dict(vocab_size=300, hidden_size=64, num_hidden_layers=3, ffn_dim=96, num_attention_heads=4,
             max_position_embeddings=128)
VARIANTS = {
    "galactica (pre-norm, gelu, biases)": dict(activation_function="gelu"),
    "opt-350m (post-norm, relu, projected embeddings)": dict(do_layer_norm_before=False, word_embed_proj_dim=32),
    "no biases, no norm weights": dict(enable_bias=False, layer_norm_elementwise_affine=False),
    "untied head": dict(tie_word_embeddings=False),
}


def hf(**changes) -> OPTForCausalLM:
    torch.manual_seed(0)
    model = OPTForCausalLM(OPTConfig(**{**SMALL, **changes})).eval()
    with torch.no_grad():  # transformers zeroes biases and sets norms to 1: random ones test that they are read
        for name, p in model.named_parameters():
            if name.endswith("bias") or "layer_norm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    return model


def reference_logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(input_ids=ids).logits[:, -1].float()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_logits_equal_transformers_in_one_pass_and_step_by_step(name):
    theirs = hf(**VARIANTS[name])
    ours = OPT.from_transformers(theirs)
    ids = torch.randint(3, 300, (2, 20), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(ours(ids, ours.new_cache()).float(), reference_logits(theirs, ids), atol=1e-4)
    cache = ours.new_cache()
    ours(ids[:, :11], cache)  # a prefill of 11, a chunk of 5 after it, then single tokens
    ours(ids[:, 11:16], cache)
    for end in range(17, 21):
        step = ours(ids[:, end - 1 : end], cache).float()
        assert torch.allclose(step, reference_logits(theirs, ids[:, :end]), atol=1e-4), (name, end)
    assert cache.get_seq_length() == 20


def test_the_tiny_model_reads_as_transformers_reads_it():
    from transformers import AutoModelForCausalLM

    theirs = AutoModelForCausalLM.from_pretrained(TINY_MODEL_DIR).eval()
    ours = opt.load(TINY_MODEL_DIR)
    ids = torch.randint(3, 2048, (1, 50), generator=torch.Generator().manual_seed(2))
    assert torch.allclose(ours(ids, ours.new_cache()), reference_logits(theirs, ids), atol=1e-4)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


def _save(model: OPTForCausalLM, directory, layout: str) -> None:
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(model.config.to_dict()))
    # As the hub's older checkpoints store them: the decoder's names without "model.", the head tied away.
    state = {k.removeprefix("model."): v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    if layout == "safetensors":
        save_file(state, directory / "model.safetensors")
    elif layout == "pickle":
        torch.save(state, directory / "pytorch_model.bin")
    else:  # two pickle shards and their index
        names = sorted(state)
        shards = {"pytorch_model-00001-of-00002.bin": names[::2], "pytorch_model-00002-of-00002.bin": names[1::2]}
        for file, keys in shards.items():
            torch.save({k: state[k] for k in keys}, directory / file)
        weight_map = {k: file for file, keys in shards.items() for k in keys}
        (directory / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))


@pytest.mark.parametrize("layout", ["safetensors", "pickle", "sharded"])
def test_loads_each_checkpoint_layout_in_the_dtype_asked(tmp_path, layout):
    theirs = hf(activation_function="gelu")
    _save(theirs, tmp_path / layout, layout)
    ours = opt.load(tmp_path / layout)
    ids = torch.randint(3, 300, (1, 12), generator=torch.Generator().manual_seed(3))
    assert torch.allclose(ours(ids, ours.new_cache()).float(), reference_logits(theirs, ids), atol=1e-4)
    half = opt.load(tmp_path / layout, dtype=torch.bfloat16)
    assert half.dtype == torch.bfloat16 and all(p.dtype == torch.bfloat16 for p in half.parameters())
    assert half.cache_dtype == torch.float32  # bf16 on a CPU attends in float32 (see attention)


def test_a_directory_without_weights_or_with_missing_ones_is_refused_by_name(tmp_path):
    theirs = hf()
    (tmp_path / "config.json").write_text(json.dumps(theirs.config.to_dict()))
    with pytest.raises(CheckpointError, match="holds no weights"):
        opt.load(tmp_path)
    state = {k: v for k, v in theirs.state_dict().items() if "layers.2." not in k and k != "lm_head.weight"}
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match="lacks 6 weights the model needs, e.g. layers.2"):
        opt.load(tmp_path)


def test_a_config_that_is_not_opt_is_refused_by_name():
    with pytest.raises(CheckpointError, match="model_type 'llama'"):
        Architecture.from_config({"model_type": "llama"})
    with pytest.raises(CheckpointError, match="activation 'silu'"):
        Architecture.from_config({**SMALL, "activation_function": "silu"})
    with pytest.raises(CheckpointError, match="missing or bad field"):
        Architecture.from_config({"model_type": "opt", "hidden_size": 64})


def test_more_tokens_than_positions_are_refused_before_the_pass():
    ours = OPT.from_transformers(hf())
    with pytest.raises(ValueError, match="129 tokens: the model has 128 positions"):
        ours(torch.zeros(1, 129, dtype=torch.long), ours.new_cache())


def test_layers_spread_over_devices_in_proportion_to_their_free_memory():
    assert spread_layers(4, [10, 10], ["cuda:0", "cuda:1"]) == ["cuda:0"] * 2 + ["cuda:1"] * 2
    assert spread_layers(8, [30, 10], ["cuda:0", "cuda:1"]) == ["cuda:0"] * 6 + ["cuda:1"] * 2
    assert spread_layers(3, [1, 1, 1], ["a", "b", "c"]) == ["a", "b", "c"]


def test_layers_on_other_devices_give_the_same_logits():
    """The pass moves the hidden state to each layer's device and back (two CPU devices stand for two GPUs)."""
    theirs = hf()
    state = theirs.state_dict()
    spread = OPT.from_state_dict(theirs.config.to_dict(), state, layer_devices=["cpu", "cpu:0", "cpu:0"])
    assert [str(d) for d in spread.layer_devices] == ["cpu", "cpu:0", "cpu:0"]
    ids = torch.randint(3, 300, (1, 9), generator=torch.Generator().manual_seed(4))
    assert torch.allclose(spread(ids, spread.new_cache()).float(), reference_logits(theirs, ids), atol=1e-4)


def test_a_model_over_several_gpus_keeps_its_embeddings_on_the_first_and_spreads_the_layers_by_what_is_left():
    from galactica_lsp.engine.catalogue import SIZES
    from galactica_lsp.engine.devices import Placement
    from galactica_lsp.engine.loading import gpu_shares

    shape = SIZES["large"].shape  # 30B: 48 layers, 7168 wide
    gib = 2**30
    shares = gpu_shares(Placement("cuda", "bfloat16", (40 * gib, 40 * gib), ("A", "B")), shape)
    ends = (50000 + 2048 + 2) * 7168 * 2
    assert shares == [("cuda:0", 40 * gib - ends), ("cuda:1", 40 * gib)]
    layers = spread_layers(shape.num_layers, [room for _, room in shares], [name for name, _ in shares])
    assert len(layers) == 48 and layers.count("cuda:0") <= layers.count("cuda:1")
    assert layers == sorted(layers)  # in order: the hidden state goes from one GPU to the next once
