"""The memory check's estimate against what a model of each shape really takes.

For each size (random weights at the real config from ../shared/galactica),
builds the model on the CPU in the chosen dtype, prefills a prompt of
``--context`` tokens, and compares side by side: estimated weight bytes vs the
parameters' bytes, estimated KV-cache bytes vs the buffers of the cache the
server's forward pass (``engine.opt``) fills, room included. Prints
the ratios (estimate / measured). A ratio below 1 would mean the check lets
through loads that do not fit.

    python benchmarks/memory_estimate.py --sizes mini base --context 512
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
from transformers import OPTConfig, OPTForCausalLM

from galactica_lsp.engine.catalogue import SIZES, human_bytes
from galactica_lsp.engine.opt import OPT
from galactica_lsp.engine.devices import Placement
from galactica_lsp.engine.memory import estimate

REFERENCE = Path(os.environ.get("GALACTICA_REFERENCE_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "galactica"))


def measure(size: str, dtype: str, context: int) -> dict:
    config = OPTConfig.from_dict(json.loads((REFERENCE / "configs" / f"{size}.json").read_text()))
    torch.manual_seed(0)
    model = OPT.from_transformers(OPTForCausalLM(config).to(getattr(torch, dtype)).eval())
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    cache = model.new_cache()
    model(torch.randint(4, 50_000, (1, context)), cache)
    kv = sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer._keys, layer._values))
    plan = estimate(SIZES[size].shape, Placement("cpu", dtype, (2**50,), ("CPU",)), context)
    return {"size": size, "dtype": dtype, "context": context,
            "weights_estimated": plan.weights, "weights_measured": weights,
            "kv_estimated": plan.kv_cache, "kv_measured": kv}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["mini", "base"])
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--context", type=int, default=512)
    args = parser.parse_args()
    print(f"{'size':8} {'weights est.':>13} {'measured':>11} {'ratio':>6} {'KV est.':>11} {'measured':>11} {'ratio':>6}")
    for size in args.sizes:
        r = measure(size, args.dtype, args.context)
        print(f"{size:8} {human_bytes(r['weights_estimated']):>13} {human_bytes(r['weights_measured']):>11} "
              f"{r['weights_estimated'] / r['weights_measured']:6.3f} {human_bytes(r['kv_estimated']):>11} "
              f"{human_bytes(r['kv_measured']):>11} {r['kv_estimated'] / r['kv_measured']:6.3f}")


if __name__ == "__main__":
    main()
