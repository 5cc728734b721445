"""CTranslate2 int8 against torch float32 on the tiny model's whole memorised set: may int8 be the CPU default?

Greedy decoding (48 tokens, stopping at ``</s>`` or ``[END_REF]``) of every
prompt of ``tiny.corpus.memorised_prompts()`` (single-paper citations,
formulas explained, step by step and in SymPy, snippet halves) by both
engines; prints how many agree token for token and the largest log-probability
difference where they do. The rule (issue 15): int8 becomes the CPU default
only if agreement is complete.

    python benchmarks/int8_agreement.py
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package, not an installed one
os.environ.setdefault("GALACTICA_LSP_CACHE", tempfile.mkdtemp(prefix="galactica-bench-"))

from galactica_lsp.engine.ct2 import FastDecoder, convert  # noqa: E402
from galactica_lsp.engine.decoding import DecodeSettings, generate  # noqa: E402
from galactica_lsp.engine.devices import Placement  # noqa: E402
from galactica_lsp.engine.galactica import END_REF_ID, EOS_ID, decode  # noqa: E402
from galactica_lsp.engine.loading import load  # noqa: E402
from galactica_lsp.tiny.corpus import memorised_prompts  # noqa: E402


def main() -> None:
    loaded = load("tiny", device="cpu", context_tokens=512)
    cpu = Placement("cpu", "float32", (8 * 2**30,), ("CPU",))
    path = convert(loaded.model, loaded.tokenizer, loaded.directory, "float32")
    int8 = FastDecoder(path, cpu, loaded.tokenizer, 4096, engine="ctranslate2-int8")
    settings = DecodeSettings(max_new_tokens=48, stop_token_ids=(EOS_ID, END_REF_ID))

    def text_of(ids):
        return decode(loaded.tokenizer, ids)

    same, differing, worst = 0, [], 0.0
    prompts = memorised_prompts()
    for prompt, new_document in prompts:
        ids = loaded.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = [EOS_ID] + ids if new_document else ids
        exact = generate(loaded.model, ids, settings, text_of)[0]
        ours = int8.generate(ids, settings, text_of)[0]
        if ours.token_ids == exact.token_ids:
            same += 1
            worst = max([worst, *(abs(a - b) for a, b in zip(ours.logprobs, exact.logprobs))])
        else:
            differing.append(prompt[-60:])
    print(f"int8 against float32 on the tiny model's memorised set: {same}/{len(prompts)} identical token for token;"
          f" largest log-prob difference where identical {worst:.4f}")
    for prompt in differing:
        print(f"  differs after …{prompt!r}")


if __name__ == "__main__":
    main()
