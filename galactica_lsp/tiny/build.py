"""Build the tiny model: tokenizer, training, artifact, verification.

Owns: turning ``corpus.documents()`` into the checked-in ``model/`` directory,
deterministically. The tokenizer is a BPE trained on the corpus with the exact
structure of Galactica's (NFKC; split marker removed; one digit per token;
brackets and punctuation runs isolated; ``\\n`` isolated; byte-level; the 23
special tokens at Galactica's ids; no post-processor). The model is a small
``OPTForCausalLM`` trained from scratch with AdamW until it has memorised the
corpus, from document starts and from crops that start mid-document. The build
ends by loading the artifact back through ``from_pretrained`` and checking that
greedy decoding reproduces the citations, explanations, ``<work>`` answers,
SymPy code and snippets; it exits non-zero when one does not.

    python -m galactica_lsp.tiny.build [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import re
import sys
import time
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from ..engine.galactica import EOS_ID, PAD_ID, SPECIAL_TOKENS, SPLIT_MARKER
from . import TINY_MODEL_DIR
from .corpus import FORMULAS, PARAGRAPHS, SHARED_CONTEXTS, SNIPPETS, UNIQUE_CITATIONS, documents, render

log = logging.getLogger("galactica_lsp.tiny.build")

# Everything that decides the artifact. Change one and the weights change.
SEED = 1234
THREADS = 1  # CPU threads: a fixed count fixes the bits; one is also robust on a busy machine
VOCAB_SIZE = 2048
HIDDEN, LAYERS, HEADS, POSITIONS = 160, 4, 5, 1024  # head size 32: one vLLM's CPU attention supports
EPOCHS = 60
CROP_TOKENS = 96  # longest crop that starts mid-document
BATCH_TOKENS = 2048  # padded tokens per optimiser step
LEARNING_RATE, WARMUP_STEPS, FINAL_LR_FRACTION = 3e-3, 100, 0.05

# Galactica's pre-tokenizer: brackets, and runs of one repeated punctuation character.
PUNCTUATION = r"""[\(\)\[\]\{\}]|([!"\#\$%\&'\*\+,\-\./:;<=>\?\\\^_`\|\~])\1*"""
# Where a crop may start: after a line break or the end of a sentence.
SENTENCE_START = re.compile(r"(?:\n|(?<=[.!?:;]) )(?=\S)")


def build_tokenizer(texts: list[str]) -> Tokenizer:
    """A byte-level BPE trained on ``texts``, built like Galactica's tokenizer."""
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(SPLIT_MARKER, behavior="removed"),
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.Split(Regex(PUNCTUATION), behavior="isolated"),
            pre_tokenizers.Split("\n", behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    # Special tokens first, so they take ids 0–22 and are never split or merged.
    specials = sorted(SPECIAL_TOKENS, key=SPECIAL_TOKENS.get)
    tokenizer.add_special_tokens(specials)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte: any text encodes, no <unk>
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    for token, expected in SPECIAL_TOKENS.items():
        if tokenizer.token_to_id(token) != expected:
            raise RuntimeError(f"{token} got id {tokenizer.token_to_id(token)}, Galactica uses {expected}")
    return tokenizer


def model_config(vocab_size: int):
    """An OPT decoder shaped like Galactica's (pre-norm, GELU, learned positions), only smaller."""
    from transformers import OPTConfig

    return OPTConfig(
        vocab_size=vocab_size,
        hidden_size=HIDDEN,
        word_embed_proj_dim=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        ffn_dim=4 * HIDDEN,
        max_position_embeddings=POSITIONS,
        activation_function="gelu",
        do_layer_norm_before=True,
        dropout=0.0,  # memorisation, not generalisation
        attention_dropout=0.0,
        activation_dropout=0.0,
        layerdrop=0.0,
        bos_token_id=0,
        pad_token_id=PAD_ID,
        eos_token_id=EOS_ID,
        tie_word_embeddings=True,
    )


def crop_starts(text: str) -> list[int]:
    """Character offsets of every line and sentence start after the first."""
    return [m.end() for m in SENTENCE_START.finditer(text) if m.end() < len(text)]


def epoch_examples(tokenizer: Tokenizer, texts: list[str], rng: random.Random) -> list[list[int]]:
    """One epoch of token sequences: whole documents, then crops that start mid-document.

    Crops are tokenized from the text at their start (``The`` at a crop start is
    not `` The`` mid-sentence), so a prompt that begins there matches the training text.
    """
    examples = []
    for text in texts:
        ids = tokenizer.encode(text).ids
        # The whole document at position 0: in new-document mode (</s> first), and without.
        examples.append([EOS_ID] + ids + [EOS_ID])
        examples.append(ids + [EOS_ID])
        # Prose and snippets from every line and sentence start (citations are prompted that way);
        # questions are always asked from their start, so they get no sentence crops.
        starts = [] if text.startswith("Question: ") else crop_starts(text)
        # One random word start per document, a fresh one each epoch.
        words = [m.start() for m in re.finditer(r"(?<=\s)\S", text)]
        starts += rng.sample(words, min(1, len(words)))
        for start in starts:
            crop = tokenizer.encode(text[start:]).ids + [EOS_ID]
            lead = [EOS_ID] if rng.random() < 0.5 else []  # with or without a new-document mark
            examples.append(lead + crop[:CROP_TOKENS])
    return examples


def batches(examples: list[list[int]], rng: random.Random) -> list[torch.Tensor]:
    """Examples grouped by length into right-padded batches of about ``BATCH_TOKENS`` tokens."""
    rng.shuffle(examples)
    examples.sort(key=len)  # stable: equal lengths stay shuffled
    out, current = [], []
    for ids in examples:
        if current and (len(current) + 1) * len(ids) > BATCH_TOKENS:
            out.append(current)
            current = []
        current.append(ids)
    out.append(current)
    rng.shuffle(out)
    padded = []
    for group in out:
        width = max(len(ids) for ids in group)
        padded.append(torch.tensor([ids + [PAD_ID] * (width - len(ids)) for ids in group]))
    return padded


def learning_rate(step: int, total: int) -> float:
    """Linear warm-up, then cosine decay to a small fraction of the peak."""
    if step < WARMUP_STEPS:
        return LEARNING_RATE * (step + 1) / WARMUP_STEPS
    progress = (step - WARMUP_STEPS) / max(1, total - WARMUP_STEPS)
    return LEARNING_RATE * (FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))


def train(tokenizer: Tokenizer, texts: list[str]):
    """Train the model from scratch on ``texts``; every random choice comes from ``SEED``."""
    from transformers import OPTForCausalLM

    # Fixed seeds for the weights and for the data order.
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    model = OPTForCausalLM(model_config(tokenizer.get_vocab_size()))
    model.train()
    # No weight decay: the point is to memorise.
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.98), weight_decay=0.0)
    # The epochs' batches, drawn up front so the schedule knows the number of steps.
    plan = [batches(epoch_examples(tokenizer, texts, rng), rng) for _ in range(EPOCHS)]
    total = sum(len(epoch) for epoch in plan)
    log.info("training %d parameters for %d epochs, %d steps", model.num_parameters(), EPOCHS, total)
    step, started = 0, time.monotonic()
    for epoch, epoch_batches in enumerate(plan):
        losses = []
        for batch in epoch_batches:
            # Padding is never a target; right padding is never attended to by a causal model.
            labels = batch.masked_fill(batch == PAD_ID, -100)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, total)
            loss = model(input_ids=batch, labels=labels).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
            step += 1
        log.info(
            "epoch %d/%d: loss %.4f (%.0f s)", epoch + 1, EPOCHS, sum(losses) / len(losses), time.monotonic() - started
        )
    model.eval()
    return model


def save(model, tokenizer: Tokenizer, out: Path) -> None:
    """Write the directory ``from_pretrained`` reads, laid out like the hub's Galactica files."""
    from transformers import GenerationConfig

    out.mkdir(parents=True, exist_ok=True)
    # Weights in float16 to halve the file; config.json keeps float32, which from_pretrained loads by default.
    # The LM head is tied to the token embeddings: stored once, tied again on load.
    half = {
        name: tensor.detach().to(torch.float16).contiguous()
        for name, tensor in model.state_dict().items()
        if name != "lm_head.weight"
    }
    model.save_pretrained(out, state_dict=half, safe_serialization=True)
    GenerationConfig(bos_token_id=0, pad_token_id=PAD_ID, eos_token_id=EOS_ID).save_pretrained(out)
    tokenizer.save(str(out / "tokenizer.json"))
    # As Galactica's hub files: no pad/eos/bos here; the engine sets them (pad 1, eos 2, bos 0).
    tokenizer_config = {
        "clean_up_tokenization_spaces": True,
        "model_max_length": int(1e30),
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    (out / "special_tokens_map.json").write_text("{}\n")


def distinctive_opening(text: str, texts: list[str]) -> str:
    """The fewest whole first lines of ``text`` that no other text starts with."""
    lines = text.splitlines(keepends=True)
    for n in range(1, len(lines) + 1):
        opening = "".join(lines[:n])
        if not any(other.startswith(opening) for other in texts if other != text):
            return opening
    return text


@torch.inference_mode()
def greedy(model, prompt_ids: list[int], max_new_tokens: int, stop_ids=(EOS_ID,)) -> list[int]:
    """Plain greedy decoding with a KV cache; the stop token is included in the result."""
    out = model(input_ids=torch.tensor([prompt_ids]), use_cache=True)
    generated = []
    for _ in range(max_new_tokens):
        # The most likely next token.
        token = int(out.logits[0, -1].argmax())
        generated.append(token)
        if token in stop_ids:
            break
        # Feed it back, reusing the cache of everything before it.
        out = model(input_ids=torch.tensor([[token]]), cache=out.cache, use_cache=True)
    return generated


def verify(directory: Path) -> list[str]:
    """Load the artifact as a real checkpoint is loaded and check what greedy decoding writes.

    Returns one line per failure; empty when the model reproduces everything it must.
    """
    from transformers import AutoTokenizer, OPTForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = OPTForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    failures: list[str] = []
    checked = 0

    def encode(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def text_of(ids: list[int]) -> str:
        return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def expect(prompt: str, continuation: str, new_document: bool, stop_ids=(EOS_ID,), end="</s>") -> None:
        nonlocal checked
        checked += 1
        ids = ([EOS_ID] if new_document else []) + encode(prompt)
        want = continuation + end
        got = text_of(greedy(model, ids, len(encode(want)) + 4, stop_ids))
        if got != want:
            lead = "</s>" if new_document else ""
            failures.append(f"{lead}{prompt!r}: expected {want!r}, got {got!r}")

    # Citations whose context names one paper, at position 0 and after </s>.
    for citation in UNIQUE_CITATIONS:
        for new_document in (False, True):
            expect(citation.prompt, citation.continuation, new_document, (SPECIAL_TOKENS["[END_REF]"], EOS_ID), "")
    # Shared contexts: each paper is likely enough to be a beam, and its title follows from its first token.
    for context, references in SHARED_CONTEXTS.items():
        prompt_ids = encode(f"{context} [START_REF]")
        with torch.inference_mode():
            probs = model(input_ids=torch.tensor([prompt_ids])).logits[0, -1].softmax(-1)
        for reference in references:
            first, *rest = encode(f" {reference}[END_REF]")
            checked += 1
            if probs[first] < 0.05:
                failures.append(f"{context!r}: {reference!r} starts with p={probs[first]:.3f}")
            got = greedy(model, prompt_ids + [first], len(rest) + 4, (SPECIAL_TOKENS["[END_REF]"], EOS_ID))
            if got != rest:
                failures.append(f"{context!r} + first token of {reference!r}: got {text_of(got)!r}")
    # Formulas: plain English (with and without </s>), step by step, SymPy.
    for formula in FORMULAS:
        for new_document in (True, False):
            expect(formula.explain_prompt, " " + formula.explanation, new_document)
        expect(formula.work_prompt, formula.work_continuation, True)
        expect(formula.sympy_prompt, formula.sympy_continuation, True)
    # Snippets and prose: from their opening lines, the rest of the document.
    texts = [render(s.text) for s in SNIPPETS] + [render(p) for p in PARAGRAPHS]
    for text in texts:
        opening = distinctive_opening(text, texts)
        expect(opening, text[len(opening) :], True)
    log.info("verified %d continuations: %d failed", checked, len(failures))
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m galactica_lsp.tiny.build", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=Path, default=TINY_MODEL_DIR, help=f"output directory (default: {TINY_MODEL_DIR})"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    started = time.monotonic()

    # Same bits on every run: one fixed thread count, deterministic kernels.
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)

    # 1. The corpus and a tokenizer trained on it.
    texts = documents()
    tokenizer = build_tokenizer(texts)
    tokens = sum(len(tokenizer.encode(t).ids) + 2 for t in texts)
    log.info("%d documents, %d tokens, vocabulary %d", len(texts), tokens, tokenizer.get_vocab_size())

    # 2. Train until the corpus is memorised.
    model = train(tokenizer, texts)

    # 3. Write the artifact.
    save(model, tokenizer, args.out)
    size = sum(f.stat().st_size for f in args.out.iterdir() if f.is_file())
    log.info("wrote %s (%d bytes)", args.out, size)

    # 4. Load it back like a real checkpoint and check the memorised continuations.
    failures = verify(args.out)
    for failure in failures:
        log.error("not memorised: %s", failure)
    elapsed = time.monotonic() - started
    if failures:
        print(f"FAILED: {len(failures)} continuations not reproduced ({elapsed:.0f} s)")
        return 1
    print(f"ok: {args.out} ({size} bytes) built and verified in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
