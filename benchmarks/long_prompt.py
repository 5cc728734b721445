"""A long paper and a user who jumps around it: chunked prefill with prefix reuse against a full prefill per request.

On a ~2,000-token LaTeX paper (``--doc-tokens``), with a prompt budget that
holds all of it (``--context-tokens`` 2048), the engine (in this process,
the real loading and decoding code) answers, in order:

1. ghost text at the end of the paper (nothing stored yet: a full prefill);
2. the user jumps to the middle and types ``--keys`` characters, ghost text
   after each (the text before the cursor is the start of request 1's prompt);
3. back at the end: ghost text after the edited middle (the prompt shares
   everything before the edit with request 1's).

Each request is timed twice, side by side: ours (prefix reuse, the prompt
prefilled ``PREFILL_CHUNK`` tokens a pass), and naive (the stored prefixes
dropped first: the whole prompt prefilled every time). Then a full-paper
request is cancelled shortly after it starts: how long the worker takes to
be free (at most one chunk) against the whole prefill.

    python benchmarks/long_prompt.py --model mini
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one

from harness import prepare_model, temporary_directory  # noqa: E402
from typing_session import TYPED, build_document  # noqa: E402

from galactica_lsp.engine.decoding import PREFILL_CHUNK  # noqa: E402
from galactica_lsp.engine.service import Engine  # noqa: E402
from galactica_lsp.engine.types import DecodeSettings, Priority  # noqa: E402


def requests(document: str, keys: int) -> list[tuple[str, str]]:
    """(label, prompt text) in the order the user asks: the end, each key typed in the middle, the end again."""
    middle = document.rfind(". ", 0, len(document) // 2) + 2
    out = [("end of the paper", document)]
    for k in range(1, keys + 1):
        out.append((f"middle, key {k}", document[:middle] + TYPED[:k]))
    out.append(("end, after the middle edit", document[:middle] + TYPED[:keys] + document[middle:]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mini", help="a size of ../shared configs (random weights) or a checkpoint")
    parser.add_argument("--doc-tokens", type=int, default=2000)
    parser.add_argument("--context-tokens", type=int, default=2048)
    parser.add_argument("--keys", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=8)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--out", default="", help="also write the result as JSON here")
    args = parser.parse_args()

    document = build_document(args.doc_tokens)
    settings = DecodeSettings(max_new_tokens=args.new_tokens, stop_token_ids=())
    engine = Engine()
    with temporary_directory() as tmp:
        directory, what = prepare_model(args.model, Path(tmp))
        loaded = engine.load(directory, device="cpu", dtype=args.dtype,
                             context_tokens=args.context_tokens + args.new_tokens)
    try:
        rows = []
        for label, text in requests(document, args.keys):
            def ask(g, cancelled, text=text):
                started = time.perf_counter()
                gen = g.complete(text, settings, cancelled, key="paper.tex", budget=args.context_tokens)[0]
                return (time.perf_counter() - started) * 1000, gen

            ours_ms, ours = engine.call(ask, label)
            # Naive, in the same state otherwise: every stored prefix dropped, the whole prompt prefilled.
            engine.call(lambda g, c: g.forget(), "forget")
            naive_ms, naive = engine.call(ask, label)
            same = naive.token_ids == ours.token_ids
            # float32: reuse gives the full prefill's tokens. bf16 rounds each chunk's products by how the prompt is
            # cut into chunks, so a near-tie may flip (random weights are full of them): counted, not asserted.
            assert same or loaded.placement.dtype != "float32", f"{label}: reuse changed the output"
            # The state is ours again: the one stored prompt is this request's (the key's entry is replaced).
            rows.append({"request": label, "prompt_tokens": ours.prompt_tokens, "reused_tokens": ours.reused_tokens,
                         "ours_ms": round(ours_ms, 1), "naive_ms": round(naive_ms, 1),
                         "ratio": round(ours_ms / naive_ms, 3), "same_tokens": same})
        cancel = _cancel_timing(engine, document, settings, args)
    finally:
        engine.shutdown()

    ours_total, naive_total = sum(r["ours_ms"] for r in rows), sum(r["naive_ms"] for r in rows)
    result = {"model": args.model, "what": what, "describe": loaded.describe(), "prefill_chunk": PREFILL_CHUNK,
              "requests": rows, "ours_total_ms": round(ours_total, 1), "naive_total_ms": round(naive_total, 1),
              "total_ratio": round(ours_total / naive_total, 3), "cancel": cancel}
    print(f"{args.model} ({what}) as {loaded.describe()}; {args.new_tokens} new tokens a request,"
          f" prompt budget {args.context_tokens}, prefill {PREFILL_CHUNK} tokens a pass")
    print(f"{'request':30s} {'prompt':>6s} {'reused':>6s} {'ours':>9s} {'full prefill':>12s} {'ratio':>6s}  same tokens")
    for r in rows:
        print(f"{r['request']:30s} {r['prompt_tokens']:6d} {r['reused_tokens']:6d} {r['ours_ms']:7.0f} ms"
              f" {r['naive_ms']:9.0f} ms {r['ratio']:6.2f}  {'yes' if r['same_tokens'] else 'no'}")
    mid = [r for r in rows if r["request"] != "end of the paper"]
    print(f"{'all requests':30s} {'':6s} {'':6s} {ours_total:7.0f} ms {naive_total:9.0f} ms {result['total_ratio']:6.2f}")
    print(f"after the jump (median ratio): {statistics.median(r['ratio'] for r in mid):.2f}")
    print(f"cancelled {cancel['cancel_after_ms']:.0f} ms into a full-paper prefill: worker free "
          f"{cancel['free_after_cancel_ms']:.0f} ms later (one chunk ≈ {cancel['chunk_ms']:.0f} ms; whole prefill"
          f" {cancel['full_ms']:.0f} ms)")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


def _cancel_timing(engine: Engine, document: str, settings: DecodeSettings, args) -> dict:
    """Cancel a full-paper request a little after it starts; how long until the worker is free again."""
    engine.call(lambda g, c: g.forget(), "forget")
    started = time.perf_counter()
    full = engine.call(lambda g, c: g.complete(document, settings, c, key="full", budget=args.context_tokens), "full")
    full_ms = (time.perf_counter() - started) * 1000
    chunk_ms = full_ms * PREFILL_CHUNK / full[0].prompt_tokens  # about: the decoding steps are in full_ms too
    engine.call(lambda g, c: g.forget(), "forget")
    job = engine.submit(lambda g, c: g.complete(document, settings, c, key="cancelled", budget=args.context_tokens),
                        Priority.INTERACTIVE, "cancelled")
    delay = min(full_ms / 4, 2 * chunk_ms) / 1000
    threading.Event().wait(delay)
    cancelled_at = time.perf_counter()
    job.cancel()
    done = threading.Event()
    engine.worker.submit(lambda c: done.set(), Priority.INTERACTIVE, "after")
    done.wait()
    free_ms = (time.perf_counter() - cancelled_at) * 1000
    assert job.future.cancelled() or job.future.exception() is not None, "the cancelled request ran to its end"
    return {"full_ms": round(full_ms, 1), "chunk_ms": round(chunk_ms, 1), "cancel_after_ms": round(delay * 1000, 1),
            "free_after_cancel_ms": round(free_ms, 1)}


if __name__ == "__main__":
    main()
