"""The engine's plain data types: what the server, the command line and every backend exchange.

Owns: how to decode (:class:`DecodeSettings`), what comes back
(:class:`Generation`, :class:`Confidence`, :class:`Suggestion`), how urgent a
job is (:class:`Priority`) and how long it took (:class:`Timing`), load
progress (:class:`Progress`), and the exceptions a request can end with
(:class:`Cancelled`, :class:`ModelNotReady`).

Importing this module imports neither torch nor transformers (directly or
through another module), so the language server, the settings and
``galactica-lsp --help`` stay light; torch comes in when a local model is
loaded (see ``loading``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .galactica import EOS_ID, Reference

STRATEGIES = ("greedy", "sample", "beam")
EXPLAIN_MODES = ("explain", "work", "sympy")

__all__ = [
    "EXPLAIN_MODES", "STRATEGIES", "Cancelled", "Confidence", "DecodeSettings", "Generation", "ModelNotReady",
    "Priority", "Progress", "ProgressCallback", "Reference", "Suggestion", "Timing",
]


class Cancelled(Exception):
    """The request was cancelled; decoding (or prefill) stopped at the next step."""


class ModelNotReady(RuntimeError):
    """A request arrived while no model is loaded (loading, failed, or not asked for)."""


@dataclass(frozen=True)
class DecodeSettings:
    """How to decode; every field has the default an interactive completion wants."""

    strategy: str = "greedy"
    max_new_tokens: int = 32
    num_return: int = 1  # samples, or beams, returned
    temperature: float = 0.7  # sampling only
    top_p: float = 0.95
    top_k: int = 0  # 0: no top-k cut
    seed: int | None = None
    num_beams: int = 1
    beam_groups: int = 1  # > 1 with diversity > 0: diverse beam search
    diversity: float = 0.0  # Hamming penalty per earlier group that chose the token this step
    length_penalty: float = 1.0
    stop_token_ids: tuple[int, ...] = (EOS_ID,)
    stop_strings: tuple[str, ...] = ()
    time_limit: float | None = None  # seconds of wall clock for the whole generation

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}: choose one of {', '.join(STRATEGIES)}")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if self.strategy == "beam":
            if self.num_beams < max(self.num_return, 1):
                raise ValueError("num_beams must be at least num_return")
            if self.num_beams % self.beam_groups:
                raise ValueError("num_beams must be a multiple of beam_groups")

    @property
    def rows(self) -> int:
        """Sequences decoded side by side: beams, samples, or one."""
        if self.strategy == "beam":
            return self.num_beams
        return self.num_return if self.strategy == "sample" else 1


@dataclass(frozen=True)
class Confidence:
    """How sure the model was of a sequence, from its per-token log-probabilities.

    ``minimum`` and ``total`` are what galai's guide scores references by.
    ``probability`` is exp(total): the model's probability of writing exactly
    this sequence (for a reference: of this paper, given the context; several
    real papers for one context share the mass). ``token_probability`` is the
    geometric mean per token, for long free text such as explanations.
    """

    minimum: float
    total: float
    mean: float

    @property
    def probability(self) -> float:
        return math.exp(self.total)

    @property
    def token_probability(self) -> float:
        return math.exp(self.mean)

    @classmethod
    def of(cls, logprobs: Sequence[float]) -> Confidence:
        if not logprobs:
            return cls(0.0, 0.0, 0.0)
        return cls(min(logprobs), sum(logprobs), sum(logprobs) / len(logprobs))


@dataclass(frozen=True)
class Generation:
    """One continuation: its text, its tokens with their log-probabilities, and why it ended."""

    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]  # one per token in token_ids
    finish_reason: str  # "eos" | "stop" | "length" | "time"
    prompt_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens whose keys and values came from an earlier request
    engine: str = "torch"  # which backend decoded it: "torch", "ctranslate2", …

    @property
    def confidence(self) -> Confidence:
        return Confidence.of(self.logprobs)


@dataclass(frozen=True)
class Suggestion:
    """A reference the model proposed, with how sure it was."""

    reference: Reference
    confidence: Confidence
    finish_reason: str

    @property
    def text(self) -> str:
        return self.reference.text


@dataclass(frozen=True)
class Citations:
    """What one reference search gave: the distinct suggestions, and what became of the other beams."""

    suggestions: list[Suggestion]
    beams: int  # sequences the search returned
    incomplete: int  # of them, no reference: never closed with [END_REF] (a run-on, cut by the token or time
    # limit) or closed empty
    repeated: int  # of them, a reference another beam gave too

    def merged(self, other: Citations) -> Citations:
        """Two searches' suggestions as one: each reference once (its more probable form), most probable first."""
        best: dict[str, Suggestion] = {}
        for s in self.suggestions + other.suggestions:
            key = " ".join(s.text.casefold().split())
            if key not in best or s.confidence.total > best[key].confidence.total:
                best[key] = s
        suggestions = sorted(best.values(), key=lambda s: -s.confidence.total)
        closed = len(self.suggestions) + self.repeated + len(other.suggestions) + other.repeated
        return Citations(suggestions, self.beams + other.beams, self.incomplete + other.incomplete,
                         closed - len(suggestions))

    def why_fewer(self, asked: int) -> str | None:
        """Why fewer than ``asked`` distinct suggestions came back (one sentence), or None when they all did."""
        given = len(self.suggestions)
        if given >= asked:
            return None
        parts = []
        if self.repeated:
            parts.append(f"{self.repeated} repeated a reference already given")
        if self.incomplete:
            parts.append(f"{self.incomplete} gave no complete reference (none closed with [END_REF])")
        distinct = f"{given} distinct reference{'' if given == 1 else 's'}"
        return f"{asked} asked, the model gave {distinct} in {self.beams} beams" + (f": {'; '.join(parts)}" if parts else "")


class Priority(enum.IntEnum):
    """Lower runs first: what the user waits for while typing goes before background work."""

    CONTROL = 0  # loading and unloading the model
    INTERACTIVE = 1  # ghost text, completion menu, citations
    BACKGROUND = 2  # hover and code-action explanations, warm-up


@dataclass(frozen=True)
class Timing:
    label: str
    waited: float  # seconds in the queue
    ran: float  # seconds on the worker
    outcome: str  # "done" | "cancelled" | "error"


@dataclass(frozen=True)
class Progress:
    """One step of a load: ``stage`` is "check", "download", "load", "convert" or "ready"."""

    stage: str
    message: str
    done: int = 0
    total: int = 0

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


ProgressCallback = Callable[[Progress], None]
