"""Faster modes against torch float32 on the tiny model's whole memorised set: which may be a CPU default?

Greedy decoding (48 tokens, stopping at ``</s>`` or ``[END_REF]``) of every
prompt of ``tiny.corpus.memorised_prompts()`` (single-paper citations,
formulas explained, step by step and in SymPy, snippet halves) by float32 and
by each faster mode:

- ``bfloat16``: the torch engine with bf16 weights, as ``dtype`` auto loads a
  model of 50M parameters or more on a CPU with bf16 units (attention in
  float32 over a float32 cache: ``engine.attention``);
- ``ctranslate2-int8``: CTranslate2 with int8 weights.

Prints, for each, how many prompts agree token for token and the largest
log-probability difference where they do. Then, on ``--shape`` (random
weights of a real size's shape, where near-ties are as common as they get),
the share of positions whose next token bf16 and float32 agree on when both
are fed float32's own greedy continuation (teacher-forced: how often a bf16
step picks what float32 would, without one flip dragging the rest along).

    python benchmarks/agreement.py
    python benchmarks/agreement.py --shape none     # the tiny model only
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one
os.environ.setdefault("GALACTICA_LSP_CACHE", tempfile.mkdtemp(prefix="galactica-bench-"))

import torch  # noqa: E402

from galactica_lsp.engine import opt  # noqa: E402
from galactica_lsp.engine.ct2 import FastDecoder, convert  # noqa: E402
from galactica_lsp.engine.decoding import DecodeSettings, generate  # noqa: E402
from galactica_lsp.engine.devices import Placement  # noqa: E402
from galactica_lsp.engine.galactica import END_REF_ID, EOS_ID, decode  # noqa: E402
from galactica_lsp.engine.loading import load  # noqa: E402
from galactica_lsp.tiny.corpus import memorised_prompts  # noqa: E402


def memorised_agreement() -> None:
    loaded = load("tiny", device="cpu", dtype="float32", context_tokens=512)
    bf16 = opt.load(loaded.directory, "cpu", torch.bfloat16)  # as the loader places bf16 weights on a CPU
    cpu = Placement("cpu", "float32", (8 * 2**30,), ("CPU",))
    path = convert(loaded.directory, "float32")
    int8 = FastDecoder(path, cpu, loaded.tokenizer, 4096, engine="ctranslate2-int8")
    settings = DecodeSettings(max_new_tokens=48, stop_token_ids=(EOS_ID, END_REF_ID))

    def text_of(ids):
        return decode(loaded.tokenizer, ids)

    modes = {"bfloat16": lambda ids: generate(bf16, ids, settings, text_of)[0],
             "ctranslate2-int8": lambda ids: int8.generate(ids, settings, text_of)[0]}
    same = dict.fromkeys(modes, 0)
    worst = dict.fromkeys(modes, 0.0)
    differing: dict[str, list[str]] = {mode: [] for mode in modes}
    prompts = memorised_prompts()
    for prompt, new_document in prompts:
        ids = loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = [EOS_ID] + ids if new_document else ids
        exact = generate(loaded.model, ids, settings, text_of)[0]
        for mode, run in modes.items():
            ours = run(ids)
            if ours.token_ids == exact.token_ids:
                same[mode] += 1
                worst[mode] = max([worst[mode], *(abs(a - b) for a, b in zip(ours.logprobs, exact.logprobs))])
            else:
                differing[mode].append(prompt[-60:])
    for mode in modes:
        print(f"{mode} against float32 on the tiny model's memorised set: {same[mode]}/{len(prompts)} identical token"
              f" for token; largest log-prob difference where identical {worst[mode]:.4f}")
        for prompt in differing[mode]:
            print(f"  differs after …{prompt!r}")


def teacher_forced(shape: str, prompts: int, tokens: int) -> None:
    from harness import prepare_model, temporary_directory
    from typing_session import build_document

    with temporary_directory() as tmp:
        directory, what = prepare_model(shape, Path(tmp))
        fp32 = opt.load(directory, "cpu", torch.float32)
        bf16 = opt.load(directory, "cpu", torch.bfloat16)
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(Path(directory) / "tokenizer.json"))
        document = tokenizer.encode(build_document(700)).ids
        agree = total = 0
        deltas = []
        for i in range(prompts):
            prompt = [EOS_ID] + document[: 200 + i * 500 // max(prompts - 1, 1)]
            continuation = generate(fp32, prompt, DecodeSettings(max_new_tokens=tokens, stop_token_ids=()),
                                    lambda ids: "")[0].token_ids
            ids = torch.tensor([prompt + list(continuation)])
            exact = torch.log_softmax(fp32(ids, fp32.new_cache(), every_position=True)[0, len(prompt) - 1 : -1]
                                      .float(), -1)
            half = torch.log_softmax(bf16(ids, bf16.new_cache(), every_position=True)[0, len(prompt) - 1 : -1]
                                     .float(), -1)
            agree += int((exact.argmax(-1) == half.argmax(-1)).sum())
            total += exact.shape[0]
            chosen = torch.tensor(continuation)[:, None]
            deltas += (exact.gather(-1, chosen) - half.gather(-1, chosen)).abs().squeeze(-1).tolist()
        deltas.sort()
        print(f"{shape} ({what}): bf16 picks float32's next token at {agree}/{total} positions ({agree / total:.1%}),"
              f" teacher-forced on float32's greedy continuations of {prompts} prompts; |Δ log-prob| of the chosen"
              f" token: median {deltas[len(deltas) // 2]:.4f}, max {deltas[-1]:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="mini", help="a size of ../shared configs for the teacher-forced part; none")
    parser.add_argument("--prompts", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()
    memorised_agreement()
    if args.shape != "none":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        teacher_forced(args.shape, args.prompts, args.tokens)


if __name__ == "__main__":
    main()
