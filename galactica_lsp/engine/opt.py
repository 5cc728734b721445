"""Galactica's network (OPT) in plain torch: the forward pass the decoding loops run.

Owns: :class:`Architecture` (what the forward pass reads of an OPT
``config.json``), :class:`OPT` (the weights as plain tensors and one forward
pass: tokens in, the keys and values written into a
:class:`~.kv_cache.GrowingCache`, the last position's logits out), and
reading a checkpoint directory (safetensors or PyTorch pickles, one file or
sharded) onto a device, or its layers spread over several GPUs.

Why not transformers' ``OPTForCausalLM``: importing it took 2.2 s of the
3.9 s from process start to the tiny model's first ghost text (it pulls in
torch's distributed and compiler packages), and each decoding step paid its
module dispatch, mask building and cache bookkeeping. Here a step is the
arithmetic alone, the query, key and value projections as one product.
transformers stays what builds and trains the tiny model and what converts for
CTranslate2; ``tests/test_opt.py`` checks this forward pass against its
``OPTForCausalLM`` on the same weights.

Half-precision weights on a CPU attend in float32 over a float32 cache (see
``attention``); everywhere else attention runs in the weights' dtype with
torch's own kernels.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .attention import cache_dtype_for
from .catalogue import ModelShape
from .kv_cache import GrowingCache

POSITION_OFFSET = 2  # OPT's learned positions start at index 2 (fairseq kept 0 and 1 for padding)
LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default, which OPT uses
_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class CheckpointError(ValueError):
    """The directory does not hold an OPT checkpoint this forward pass can run."""


@dataclass(frozen=True)
class Architecture:
    """What the forward pass needs of an OPT ``config.json``: the shape the memory plan reads, and the variant."""

    shape: ModelShape
    pre_norm: bool = True  # layer norm before attention and MLP (Galactica, every OPT but 350m)
    final_norm: bool = True
    activation: str = "relu"
    embed_dim: int = 0  # word_embed_proj_dim: the embeddings' width when it differs from the hidden size (OPT-350m)
    tied: bool = True  # the LM head is the token embeddings

    @classmethod
    def from_config(cls, config: dict) -> Architecture:
        if config.get("model_type", "opt") != "opt":
            raise CheckpointError(f"not an OPT checkpoint (model_type {config.get('model_type')!r})")
        activation = config.get("activation_function", "relu")
        if activation not in _ACTIVATIONS:
            raise CheckpointError(f"OPT with activation {activation!r} is not supported (only {', '.join(_ACTIVATIONS)})")
        try:
            shape = ModelShape.from_config(config)
            pre_norm = bool(config.get("do_layer_norm_before", True))
            return cls(shape, pre_norm, final_norm=pre_norm and not config.get("_remove_final_layer_norm", False),
                       activation=activation,
                       embed_dim=int(config.get("word_embed_proj_dim") or shape.hidden_size),
                       tied=bool(config.get("tie_word_embeddings", True)))
        except (TypeError, ValueError) as exc:
            raise CheckpointError(str(exc)) from exc


class _Layer:
    """One decoder layer's weights (query, key and value projections fused into one) and its forward pass."""

    def __init__(self, arch: Architecture, weights: dict[str, torch.Tensor | None]):
        self.arch = arch
        self.scaling = arch.shape.head_size**-0.5
        w = weights.get  # biases and norm weights are absent where the config turns them off
        self.norm1 = (w("self_attn_layer_norm.weight"), w("self_attn_layer_norm.bias"))
        self.norm2 = (w("final_layer_norm.weight"), w("final_layer_norm.bias"))
        self.qkv = torch.cat([weights[f"self_attn.{p}_proj.weight"] for p in "qkv"])
        biases = [w(f"self_attn.{p}_proj.bias") for p in "qkv"]
        self.qkv_bias = torch.cat(biases) if all(b is not None for b in biases) else None
        self.out = (weights["self_attn.out_proj.weight"], w("self_attn.out_proj.bias"))
        self.fc1 = (weights["fc1.weight"], w("fc1.bias"))
        self.fc2 = (weights["fc2.weight"], w("fc2.bias"))
        self.act = _ACTIVATIONS[arch.activation]

    def tensors(self) -> Iterator[torch.Tensor]:
        for t in (*self.norm1, *self.norm2, self.qkv, self.qkv_bias, *self.out, *self.fc1, *self.fc2):
            if t is not None:
                yield t

    def _norm(self, x: torch.Tensor, weights) -> torch.Tensor:
        return F.layer_norm(x, (x.shape[-1],), weights[0], weights[1], LAYER_NORM_EPS)

    def __call__(self, h: torch.Tensor, cache, index: int, mask: torch.Tensor | None, causal: bool) -> torch.Tensor:
        rows, n, d = h.shape
        heads, size = self.arch.shape.num_heads, self.arch.shape.head_size
        x = self._norm(h, self.norm1) if self.arch.pre_norm else h
        q, k, v = F.linear(x, self.qkv, self.qkv_bias).split(d, dim=-1)
        q = (q * self.scaling).view(rows, n, heads, size).transpose(1, 2)  # scaled before attention, as OPT does
        k = k.view(rows, n, heads, size).transpose(1, 2)
        v = v.view(rows, n, heads, size).transpose(1, 2)
        keys, values = cache.update(k, v, index)
        if mask is not None:
            mask = mask.to(h.device)
        a = F.scaled_dot_product_attention(q.to(keys.dtype), keys, values, attn_mask=mask, is_causal=causal, scale=1.0)
        a = a.transpose(1, 2).reshape(rows, n, d).to(h.dtype)
        h = h + F.linear(a, *self.out)
        if not self.arch.pre_norm:
            h = self._norm(h, self.norm1)
        x = self._norm(h, self.norm2) if self.arch.pre_norm else h
        h = h + F.linear(self.act(F.linear(x, *self.fc1)), *self.fc2)
        return h if self.arch.pre_norm else self._norm(h, self.norm2)


class OPT:
    """An OPT causal LM for decoding: ``model(ids, cache)`` gives the next token's logits for each row.

    ``config`` is its :class:`Architecture`; ``device`` and ``dtype`` are the
    embeddings' (the first and last step of the pass run there; with
    ``layer_devices``, each layer runs on its own device).
    """

    def __init__(self, arch: Architecture, weights: dict[str, torch.Tensor], layer_devices: Sequence | None = None):
        self.config = arch
        self.embed = weights["embed_tokens.weight"]
        self.positions = weights["embed_positions.weight"]
        self.device, self.dtype = self.embed.device, self.embed.dtype
        self.project_in = weights.get("project_in.weight")
        self.project_out = weights.get("project_out.weight")
        self.final_norm = ((weights.get("final_layer_norm.weight"), weights.get("final_layer_norm.bias"))
                           if arch.final_norm else None)
        self.head = self.embed if arch.tied else weights["lm_head.weight"]
        self.layers = []
        for i in range(arch.shape.num_layers):
            # Taken out of ``weights`` as each layer is built: its separate q, k and v go once they are fused.
            prefix = f"layers.{i}."
            own = {k[len(prefix):]: weights.pop(k) for k in [k for k in weights if k.startswith(prefix)]}
            self.layers.append(_Layer(arch, own))
        layers = arch.shape.num_layers
        self.layer_devices = [torch.device(d) for d in layer_devices] if layer_devices else [self.device] * layers
        self.cache_dtype = cache_dtype_for(self.device.type, self.dtype)

    def new_cache(self, prefix: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> GrowingCache:
        """An empty cache for this model (holding ``prefix``'s keys and values), capped at its positions."""
        shape = self.config.shape
        return GrowingCache(shape.num_layers, prefix, limit=shape.max_positions, store_dtype=self.cache_dtype)

    @torch.inference_mode()
    def __call__(self, ids: torch.Tensor, cache: GrowingCache, every_position: bool = False) -> torch.Tensor:
        """Feed ``ids`` ``[rows, tokens]`` after what ``cache`` holds; the last position's logits, ``[rows, vocab]``
        (``every_position``: each fed position's, ``[rows, tokens, vocab]``)."""
        ids = ids.to(self.device)
        past, n = cache.get_seq_length(), ids.shape[1]
        if past + n > self.config.shape.max_positions:
            raise ValueError(f"{past + n} tokens: the model has {self.config.shape.max_positions} positions")
        h = F.embedding(ids, self.embed)
        if self.project_in is not None:
            h = F.linear(h, self.project_in)
        h = h + self.positions[past + POSITION_OFFSET : past + POSITION_OFFSET + n]
        mask, causal = _mask(past, n, self.device)
        for index, (layer, device) in enumerate(zip(self.layers, self.layer_devices)):
            h = layer(h.to(device), cache, index, mask, causal)
        h = (h if every_position else h[:, -1]).to(self.device)  # the norm and the head work per position
        if self.final_norm is not None:
            h = F.layer_norm(h, (h.shape[-1],), *self.final_norm, LAYER_NORM_EPS)
        if self.project_out is not None:
            h = F.linear(h, self.project_out)
        return F.linear(h, self.head)

    def parameters(self) -> Iterator[torch.Tensor]:
        """Every weight tensor once (the tied head is the embeddings)."""
        yield self.embed
        yield self.positions
        for t in (self.project_in, self.project_out, *(self.final_norm or ()), None if self.config.tied else self.head):
            if t is not None:
                yield t
        for layer in self.layers:
            yield from layer.tensors()

    @classmethod
    def from_state_dict(cls, config: dict, state: dict[str, torch.Tensor], device="cpu", dtype=None,
                        layer_devices: Sequence | None = None) -> OPT:
        """From a transformers ``OPTForCausalLM`` state dict (or a checkpoint's tensors) and its config."""
        arch = Architecture.from_config(config)
        return cls(arch, _place(arch, ((k, v) for k, v in state.items()), device, dtype, layer_devices), layer_devices)

    @classmethod
    def from_transformers(cls, model) -> OPT:
        """The same weights as a loaded transformers OPT model, on its device and in its dtype (shared, not copied)."""
        weight = model.get_input_embeddings().weight
        return cls.from_state_dict(model.config.to_dict(), model.state_dict(), weight.device, weight.dtype)


def _mask(past: int, n: int, device) -> tuple[torch.Tensor | None, bool]:
    """The attention mask of ``n`` new tokens after ``past`` cached ones, as (mask, is_causal) for sdpa."""
    if n == 1:
        return None, False  # one new token sees every cached one
    if past == 0:
        return None, True
    # A chunk after cached tokens: token i sees the cache and the chunk up to itself.
    return torch.ones(n, past + n, dtype=torch.bool, device=device).tril(past), False


def _name(key: str) -> str:
    """A checkpoint key without its ``model.`` / ``decoder.`` prefixes."""
    for prefix in ("model.", "decoder."):
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key


def _place(arch: Architecture, tensors, device, dtype, layer_devices) -> dict[str, torch.Tensor]:
    """Each tensor renamed, cast to ``dtype`` and put on its layer's device (the rest on ``device``)."""
    out: dict[str, torch.Tensor] = {}
    for key, tensor in tensors:
        name = _name(key)
        target = device
        if layer_devices and name.startswith("layers."):
            target = layer_devices[int(name.split(".")[1])]
        kind = dtype if dtype is not None and tensor.is_floating_point() else tensor.dtype
        out[name] = tensor.to(device=target, dtype=kind)
    missing = [n for n in _required(arch) if n not in out]
    if missing:
        raise CheckpointError(f"the checkpoint lacks {len(missing)} weights the model needs, e.g. {missing[0]}")
    return out


def _required(arch: Architecture) -> list[str]:
    names = ["embed_tokens.weight", "embed_positions.weight"]
    if not arch.tied:
        names.append("lm_head.weight")
    if arch.embed_dim != arch.shape.hidden_size:
        names += ["project_in.weight", "project_out.weight"]
    for i in range(arch.shape.num_layers):
        names += [f"layers.{i}.{p}.weight" for p in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                                       "self_attn.out_proj", "fc1", "fc2")]
    return names


def checkpoint_files(directory: str | Path) -> list[Path]:
    """The weight files of a checkpoint directory: safetensors where there are some, else PyTorch pickles."""
    root = Path(directory)
    for single in _WEIGHT_FILES:
        index = root / f"{single}.index.json"
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            return [root / s for s in shards]
        if (root / single).is_file():
            return [root / single]
    raise CheckpointError(f"{root} holds no weights ({' or '.join(_WEIGHT_FILES)}, or their sharded index)")


def _read(files: list[Path]) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor of the checkpoint's files, one file at a time (memory-mapped, not read whole)."""
    for path in files:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():
                    yield key, f.get_tensor(key)
        else:
            try:
                state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError:  # a pickle from before torch 1.6's zip format cannot be memory-mapped
                state = torch.load(str(path), map_location="cpu", weights_only=True)
            yield from state.items()
            del state


def load(directory: str | Path, device="cpu", dtype: torch.dtype | None = None,
         spread: Sequence[tuple[str, int]] | None = None) -> OPT:
    """The checkpoint in ``directory`` on ``device`` in ``dtype`` (None: the config's ``dtype``, as transformers reads it).

    With ``spread`` (devices and their free bytes), the layers go over those
    devices (:func:`spread_layers`); the embeddings and the head stay on ``device``.
    """
    root = Path(directory)
    try:
        config = json.loads((root / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {root / 'config.json'}: {exc}") from exc
    arch = Architecture.from_config(config)
    if dtype is None:
        named = config.get("dtype") or config.get("torch_dtype") or "float32"
        dtype = getattr(torch, named) if isinstance(getattr(torch, str(named), None), torch.dtype) else torch.float32
    layer_devices = None
    if spread:
        layer_devices = spread_layers(arch.shape.num_layers, [free for _, free in spread], [name for name, _ in spread])
    weights = _place(arch, _read(checkpoint_files(root)), device, dtype, layer_devices)
    return OPT(arch, weights, layer_devices)


def spread_layers(layers: int, free: Sequence[int], devices: Sequence[str]) -> list[str]:
    """Each layer's device, in order: each device takes layers in proportion to its free bytes.

    The memory plan (``memory.check_fits``) has already checked that the model fits them together.
    """
    total, bounds, running = sum(free), [], 0
    for room in free:
        running += room
        bounds.append(running)
    return [devices[min(bisect.bisect_right(bounds, (i + 0.5) * total / layers), len(devices) - 1)]
            for i in range(layers)]
