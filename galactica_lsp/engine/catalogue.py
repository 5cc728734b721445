"""The catalogue of Galactica sizes and the arithmetic of a model's shape.

Owns: the five published sizes (mini … huge) with their hub ids and shapes,
the project's ``tiny`` model (where its files ship: ``TINY_MODEL_DIR``; the
``tiny`` package builds them and imports this, never the reverse), and :class:`ModelShape`, which turns an OPT
``config.json`` into parameter counts, weight bytes per dtype and KV-cache
bytes per token. Nothing here touches torch or the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Bytes per element of each dtype we load weights in.
DTYPE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2}


@dataclass(frozen=True)
class ModelShape:
    """The numbers of an OPT decoder that decide its size and speed."""

    hidden_size: int
    num_layers: int
    num_heads: int
    ffn_dim: int
    vocab_size: int
    max_positions: int

    @classmethod
    def from_config(cls, config: dict) -> ModelShape:
        """Read the shape from an OPT ``config.json`` dictionary."""
        try:
            return cls(
                hidden_size=int(config["hidden_size"]),
                num_layers=int(config["num_hidden_layers"]),
                num_heads=int(config["num_attention_heads"]),
                ffn_dim=int(config["ffn_dim"]),
                vocab_size=int(config["vocab_size"]),
                max_positions=int(config["max_position_embeddings"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an OPT config (missing or bad field: {exc})") from exc

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def embedding_parameters(self) -> int:
        """The token and position embeddings (the tied LM head is the former): OPT offsets positions by 2."""
        return (self.vocab_size + self.max_positions + 2) * self.hidden_size

    @property
    def parameters(self) -> int:
        """Parameter count of OPTForCausalLM (the LM head is tied to the embeddings)."""
        d, f = self.hidden_size, self.ffn_dim
        embeddings = self.embedding_parameters
        attention = 4 * (d * d + d)  # q, k, v, out projections with biases
        mlp = d * f + f + f * d + d  # fc1, fc2 with biases
        norms = 2 * 2 * d  # two layer norms, weight and bias
        final_norm = 2 * d
        return embeddings + self.num_layers * (attention + mlp + norms) + final_norm

    def weight_bytes(self, dtype: str) -> int:
        return self.parameters * DTYPE_BYTES[dtype]

    def kv_bytes_per_token(self, dtype: str) -> int:
        """Keys and values of every layer for one token of one sequence."""
        return 2 * self.num_layers * self.hidden_size * DTYPE_BYTES[dtype]


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    hub_id: str
    shape: ModelShape
    label: str


def _galactica(name: str, hub_id: str, label: str, d: int, layers: int, heads: int) -> CatalogueEntry:
    # All five sizes share the vocabulary (50,000), 2,048 positions and ffn = 4 × hidden.
    shape = ModelShape(
        hidden_size=d, num_layers=layers, num_heads=heads, ffn_dim=4 * d, vocab_size=50_000, max_positions=2048
    )
    return CatalogueEntry(name=name, hub_id=hub_id, shape=shape, label=label)


SIZES: dict[str, CatalogueEntry] = {
    e.name: e
    for e in (
        _galactica("mini", "facebook/galactica-125m", "125M", 768, 12, 12),
        _galactica("base", "facebook/galactica-1.3b", "1.3B", 2048, 24, 32),
        _galactica("standard", "facebook/galactica-6.7b", "6.7B", 4096, 32, 32),
        _galactica("large", "facebook/galactica-30b", "30B", 7168, 48, 56),
        _galactica("huge", "facebook/galactica-120b", "120B", 10240, 96, 80),
    )
}

TINY = "tiny"
# The checked-in artifact of ``galactica_lsp.tiny``: config, generation config, safetensors weights, tokenizer files.
TINY_MODEL_DIR = Path(__file__).resolve().parent.parent / "tiny" / "model"


def entry_for_hub_id(hub_id: str) -> CatalogueEntry | None:
    """The catalogue entry of a ``facebook/galactica-*`` id, if it is one of ours."""
    return next((e for e in SIZES.values() if e.hub_id.lower() == hub_id.lower()), None)


def human_bytes(n: float) -> str:
    """1536 → '1.5 KiB'; what messages and tables show."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
