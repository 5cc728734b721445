"""Precision per phase on this CPU: prefill and decoding time of each mode, side by side, and whether greedy tokens agree.

Modes (the project's own decoding loop, ``engine.decoding.generate``, on its
own forward pass, ``engine.opt``, with a ``precision.Precision`` plan each; one process, measurements interleaved
round by round and the best of ``--rounds`` kept, so the other processes on a
busy machine weigh on every mode alike):

- ``float32``: float32 throughout (``--dtype float32``);
- ``float32, bf16 prefill``: what ``dtype`` auto picks on a CPU with bf16
  units for a model under 50M parameters: the prefill's matmuls through
  oneDNN with bf16 allowed, decoding float32;
- ``bfloat16``: what ``dtype`` auto picks for a model of 50M parameters or
  more on a CPU with bf16 units (and ``--dtype bfloat16`` at any size): bf16
  weights, oneDNN on for the prefill, off for decoding, attention in float32
  over a float32 cache (``engine.attention``);
- ``bfloat16, transformers' forward``: the same loop and plan on
  transformers' ``OPTForCausalLM`` (its sdpa in bf16 over its
  ``DynamicCache``): the engine's forward pass before ``engine.opt``;
- ``bfloat16, oneDNN decode``: bf16 weights with oneDNN left on while
  decoding (why the plan turns it off).

Each mode decodes and prefills on its plan's threads (``phase_threads``:
float32 one-row decoding on one thread, the rest on the free cores);
``benchmarks/threads.py`` compares thread counts.

Agreement: greedy tokens of each mode against ``float32`` on ``--prompts``
prompts cut from a LaTeX document (random weights of the size's shape: no
memorised answers, so near-ties are as common as they get).

    python benchmarks/precision.py --model mini
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from harness import TransformersForward, prepare_model, temporary_directory, timed  # noqa: E402
from typing_session import build_document  # noqa: E402

from galactica_lsp.engine import opt
from galactica_lsp.engine.decoding import DecodeSettings, generate
from galactica_lsp.engine.devices import Placement
from galactica_lsp.engine.precision import Precision, choose, cpu_bf16


def plans(parameters: int) -> dict[str, Precision]:
    cpu = Placement("cpu", "float32", (0,), ("CPU",))
    bf16 = replace(cpu, dtype="bfloat16")
    fp32 = choose(cpu, "float32", parameters)
    half = replace(choose(bf16, "auto", parameters), threads=None)
    return {
        "float32": replace(fp32, threads=None),
        "float32, bf16 prefill": replace(choose(cpu, "auto", parameters), threads=None),
        "bfloat16": half,
        "bfloat16, transformers' forward": half,
        "bfloat16, oneDNN decode": replace(half, decode_onednn=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mini", help="a size of ../shared configs (random weights of its shape)")
    parser.add_argument("--prefill-tokens", type=int, default=512)
    parser.add_argument("--decode-tokens", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=8, help="prompts whose greedy tokens are compared")
    parser.add_argument("--agree-tokens", type=int, default=32)
    parser.add_argument("--out", default="", help="also write the result as JSON here")
    args = parser.parse_args()

    from transformers import AutoModelForCausalLM

    from galactica_lsp.engine.tokenizer import load_tokenizer

    with temporary_directory() as tmp:
        directory, what = prepare_model(args.model, Path(tmp))
        tokenizer = load_tokenizer(directory)
        fp32 = opt.load(directory, "cpu", torch.float32)
        bf16 = opt.load(directory, "cpu", torch.bfloat16)  # as the loader places bf16 weights on a CPU
        theirs = TransformersForward(AutoModelForCausalLM.from_pretrained(directory, dtype=torch.bfloat16).eval())
    parameters = sum(p.numel() for p in fp32.parameters())
    modes = plans(parameters)
    models = {name: bf16 if plan.weights == "bfloat16" else fp32 for name, plan in modes.items()}
    models["bfloat16, transformers' forward"] = theirs
    document = build_document(args.prefill_tokens + 200)
    ids = tokenizer(document, add_special_tokens=False)["input_ids"]
    prompt = [2] + ids[: args.prefill_tokens - 1]
    short = prompt[:64]

    def run(name: str, tokens: int, ids_=prompt):
        settings = DecodeSettings(max_new_tokens=tokens, stop_token_ids=())
        return generate(models[name], ids_, settings, lambda t: "", precision=modes[name])

    default_threads = torch.get_num_threads()
    prefill = {name: float("inf") for name in modes}
    decode = {name: float("inf") for name in modes}
    long_ = {name: float("inf") for name in modes}
    short_ = {name: float("inf") for name in modes}
    for name in modes:  # first passes pay for kernel choices and allocations
        run(name, 2)
    for _ in range(args.rounds):
        for name in modes:
            prefill[name] = min(prefill[name], timed(lambda: run(name, 1)))
            # decoding alone: the best long run minus the best short one, over the rounds (a busy machine's
            # stall in one short run would otherwise make a negative difference)
            long_[name] = min(long_[name], timed(lambda: run(name, 1 + args.decode_tokens, short)))
            short_[name] = min(short_[name], timed(lambda: run(name, 1, short)))
            decode[name] = (long_[name] - short_[name]) / args.decode_tokens

    # Agreement of greedy tokens with float32, on prompts cut at different places of the document.
    cuts = [len(ids) * (i + 1) // (args.prompts + 1) for i in range(args.prompts)]
    agree = {name: 0 for name in modes}
    first_difference = {name: [] for name in modes}
    for cut in cuts:
        reference = run("float32", args.agree_tokens, [2] + ids[:cut])[0].token_ids
        for name in modes:
            tokens = run(name, args.agree_tokens, [2] + ids[:cut])[0].token_ids
            agree[name] += tokens == reference
            if tokens != reference:
                first_difference[name].append(next(i for i, (a, b) in enumerate(zip(tokens, reference)) if a != b))

    result = {
        "model": args.model, "what": what, "parameters": parameters, "cpu_bf16": cpu_bf16(),
        "threads": default_threads, "prefill_tokens": len(prompt),
        "prefill_ms": {k: round(v, 1) for k, v in prefill.items()},
        "decode_ms_per_token": {k: round(v, 2) for k, v in decode.items()},
        "greedy_agreement": {k: f"{v}/{len(cuts)}" for k, v in agree.items()},
        "first_difference_at": first_difference,
    }
    base_p, base_d = prefill["float32"], decode["float32"]
    print(f"{args.model} ({what}, {parameters / 1e6:.0f}M parameters) on a CPU with {result['cpu_bf16']},"
          f" {default_threads} threads; best of {args.rounds} rounds; ratios to float32")
    print(f"{'mode':28s} {'prefill ' + str(len(prompt)):>16s} {'decode/token':>18s}  greedy = float32")
    for name in modes:
        print(f"{name:28s} {prefill[name]:8.0f} ms {prefill[name] / base_p:5.2f}"
              f" {decode[name]:9.2f} ms {decode[name] / base_d:5.2f}  {result['greedy_agreement'][name]}"
              + (f" (first differs at token {first_difference[name]})" if first_difference[name] else ""))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
