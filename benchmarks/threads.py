"""Intra-op threads per phase on this CPU: prefill and decoding on one thread or on every core, quiet and beside a busy neighbour.

A language server shares the CPU with the editor, the browser and the
build. Each decoding step of a model is a few hundred small operations; on
every core, each of them waits for the slowest thread, and a thread whose
core is taken by another process makes them all wait. The prefill is a few
big matrix products, where more cores pay. This benchmark measures both
phases, on one thread and on all of them, in one process, rounds
interleaved, best of ``--rounds`` kept:

- quiet: nothing else started by the benchmark (other processes on the
  machine still count: the load average is printed);
- busy: ``--neighbours`` processes spinning in a loop, as an editor, a
  browser tab or a compile would.

    python benchmarks/threads.py --model mini
    python benchmarks/threads.py --model base --decode-tokens 8

Prints the time of each, the ratio one thread / all cores, and the engine's
own rule (``precision.phase_threads``: one thread for one-row decoding, else
the cores the other processes leave free, sampled before each phase) against
the better of the two fixed counts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

import galactica_lsp  # noqa: E402,F401  (sets OpenMP's wait policy before torch loads, as the server does)
import torch  # noqa: E402
from harness import prepare_model, temporary_directory, timed  # noqa: E402
from typing_session import build_document  # noqa: E402

from galactica_lsp.engine.decoding import DecodeSettings, generate  # noqa: E402
from galactica_lsp.engine.devices import Placement  # noqa: E402
from galactica_lsp.engine.precision import choose  # noqa: E402


def _spin(stop) -> None:
    while not stop.is_set():
        sum(range(10_000))


def measure(model, prompt: list[int], short: list[int], args) -> dict:
    """Best-of-rounds prefill ms and decode ms per token: on one thread, on all, and as the engine's plan picks
    (``precision.phase_threads``: one thread for one row, else the cores other processes leave free); interleaved."""
    cores = torch.get_num_threads()
    counts: list[int | str] = [*sorted({1, cores}), "rule"]
    rule = choose(Placement("cpu", "float32", (0,), ("CPU",)), "float32", sum(p.numel() for p in model.parameters()))

    def run(n, tokens: int, ids: list[int], rows: int = 1):
        settings = (DecodeSettings(max_new_tokens=tokens, stop_token_ids=()) if rows == 1 else
                    DecodeSettings(strategy="beam", max_new_tokens=tokens, num_beams=rows, num_return=rows,
                                   beam_groups=rows, diversity=1.0, stop_token_ids=()))
        if n == "rule":
            torch.set_num_threads(cores)
            return generate(model, ids, settings, lambda t: "", precision=rule)
        torch.set_num_threads(n)
        return generate(model, ids, settings, lambda t: "")

    best = {(what, n): float("inf") for what in ("prefill", "decode", "beams") for n in counts}
    runs = {(what, length, n): float("inf") for what in ("decode", "beams") for length in ("long", "short") for n in counts}
    for n in counts:
        run(n, 2, short)  # first passes pay for kernel choices
    for _ in range(args.rounds):
        for n in counts:
            best["prefill", n] = min(best["prefill", n], timed(lambda: run(n, 1, prompt)))
            # decoding alone: the best long run minus the best short one, over the rounds
            for what, rows in (("decode", 1), ("beams", 5)):
                runs[what, "long", n] = min(runs[what, "long", n], timed(lambda: run(n, 1 + args.decode_tokens, short, rows)))
                runs[what, "short", n] = min(runs[what, "short", n], timed(lambda: run(n, 1, short, rows)))
                best[what, n] = (runs[what, "long", n] - runs[what, "short", n]) / args.decode_tokens
    torch.set_num_threads(cores)
    return {f"{what}_ms_{n}" + ("" if n == "rule" else "_threads"): round(v, 2) for (what, n), v in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mini", help="a size of ../shared configs (random weights of its shape)")
    parser.add_argument("--prefill-tokens", type=int, default=512)
    parser.add_argument("--decode-tokens", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--neighbours", type=int, default=1, help="spinning processes in the busy case")
    parser.add_argument("--out", default="", help="also write the result as JSON here")
    args = parser.parse_args()

    from galactica_lsp.engine import opt
    from galactica_lsp.engine.tokenizer import load_tokenizer

    with temporary_directory() as tmp:
        directory, what = prepare_model(args.model, Path(tmp))
        tokenizer = load_tokenizer(directory)
        model = opt.load(directory, "cpu", torch.float32)
        ids = tokenizer(build_document(args.prefill_tokens + 200), add_special_tokens=False)["input_ids"]
        prompt, short = [2] + ids[: args.prefill_tokens - 1], [2] + ids[:64]
        result = {"model": args.model, "what": what, "cores": torch.get_num_threads(),
                  "load_average": os.getloadavg()[0], "quiet": measure(model, prompt, short, args)}
        stop = multiprocessing.Event()
        neighbours = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.neighbours)]
        for p in neighbours:
            p.start()
        try:
            result["busy"] = measure(model, prompt, short, args)
        finally:
            stop.set()
            for p in neighbours:
                p.join()
    cores = result["cores"]
    print(f"{args.model} ({what}) float32 on {cores} cores; load average {result['load_average']:.1f} at the start;"
          f" busy = {args.neighbours} spinning process(es); best of {args.rounds}")
    print(f"{'':8s} {'phase':28s} {'1 thread':>10s} {f'{cores} threads':>10s} {'rule':>10s}"
          f"  1 thread / {cores}  rule / best")
    for case in ("quiet", "busy"):
        r = result[case]
        for what, label in (("prefill", f"prefill {len(prompt)} tokens"), ("decode", "decode, ms per token"),
                            ("beams", "5 diverse beams, ms per step")):
            one, all_, rule = r[f"{what}_ms_1_threads"], r[f"{what}_ms_{cores}_threads"], r[f"{what}_ms_rule"]
            print(f"{case:8s} {label:28s} {one:10.1f} {all_:10.1f} {rule:10.1f}  {one / all_:12.2f}"
                  f"  {rule / min(one, all_):11.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
