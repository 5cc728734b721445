"""The seam between the tasks and what runs the model.

Owns: :class:`Backend`, the one interface every decoder implements, with
:class:`Capabilities` (which decodings it runs), and the parts all backends
share: the stop rules (:class:`Finisher`), a hypothesis being decoded
(:class:`Hypothesis`), the checks made before any model call
(:func:`check_prompt`), and picking a backend for a request (:func:`pick`).

The tasks (``service.Galactica``: complete, cite, explain, score) speak only
token ids and :class:`~.types.Generation`; they never know which backend ran.

The contract, for a backend that plugs in here (the torch loop in
``torch_backend``, CTranslate2 in ``ct2``; a remote server over HTTP works the
same way: it takes token ids and returns generations):

- ``name``: what ``Generation.engine`` and the status say (``"torch"``…).
- ``capabilities``: the strategies it runs and whether it honours a sampling
  seed, diverse beam groups and prefix reuse. ``handles(settings)`` answers
  from them; a backend may narrow it further by overriding it.
- ``generate(prompt_ids, settings, decode, cancelled, key)``: continue
  ``prompt_ids`` (never empty, already cut to the prompt budget; special
  tokens as ids) under ``settings`` and return ``settings.num_return``
  generations at most (fewer when beams end early), best first for beams,
  each with one log-probability per returned token id, the text made by
  :class:`Finisher` from ``decode`` (which turns ids into text), a finish
  reason (``"eos"``, ``"stop"``, ``"length"``, ``"time"``), ``prompt_tokens``,
  ``reused_tokens`` (prompt tokens not computed again) and ``engine``.
  ``cancelled`` is polled before the first model call, between prefill
  chunks and at every decoding step (a remote backend: at every streamed
  token, and by closing the request); when it returns True, raise
  :class:`~.types.Cancelled`. ``key`` (a document or a feature) names the
  slot whose stored prefix this prompt replaces; a backend without prefix
  reuse ignores it. Called on the worker thread only, one call at a time.
- ``forget()``: drop every reused prefix (a warm-up's, or before unloading).
- ``status()``: a small JSON-ready dict for the status command, computed on
  the worker thread (it may read state that ``generate`` changes).

Nothing here imports torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .galactica import EOS_ID
from .types import STRATEGIES, Cancelled, DecodeSettings, Generation

Decode = Callable[[list[int]], str]
CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can decode."""

    strategies: frozenset[str] = frozenset(STRATEGIES)
    seeded_sampling: bool = True  # a request's seed gives the same samples every time
    diverse_beams: bool = True  # beam groups with a Hamming penalty
    prefix_reuse: bool = False  # keys and values of an earlier prompt's prefix are not computed again


class Backend(ABC):
    """Prefill and decode token ids into :class:`~.types.Generation` s; see the module docstring for the contract."""

    name: str = "backend"
    capabilities: Capabilities = Capabilities()

    def handles(self, settings: DecodeSettings) -> bool:
        """Whether this backend runs ``settings`` exactly as asked."""
        can = self.capabilities
        if settings.strategy not in can.strategies:
            return False
        if settings.strategy == "sample" and settings.seed is not None and not can.seeded_sampling:
            return False
        if settings.strategy == "beam" and settings.beam_groups > 1 and settings.diversity > 0:
            return can.diverse_beams
        return True

    @abstractmethod
    def generate(
        self,
        prompt_ids: Sequence[int],
        settings: DecodeSettings,
        decode: Decode,
        cancelled: CancelCheck = lambda: False,
        key: str = "",
    ) -> list[Generation]:
        """Continue ``prompt_ids``; raises :class:`~.types.Cancelled` when ``cancelled()`` turns True."""

    def forget(self) -> None:
        """Drop every stored prefix."""

    def status(self) -> dict:
        return {}


def pick(backends: Sequence[Backend], settings: DecodeSettings) -> Backend:
    """The first backend (in order of preference) that handles ``settings``."""
    for backend in backends:
        if backend.handles(settings):
            return backend
    names = ", ".join(b.name for b in backends) or "none"
    raise ValueError(f"no loaded backend runs {settings.strategy!r} decoding as asked (loaded: {names})")


def check_prompt(prompt_ids: Sequence[int], cancelled: CancelCheck) -> None:
    """What every backend checks before its first model call."""
    if not prompt_ids:
        raise ValueError("empty prompt")
    if cancelled():
        raise Cancelled()


@dataclass
class Hypothesis:
    """A sequence being decoded: its tokens, their log-probabilities, its rank score and why it ended."""

    ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    score: float = 0.0  # what beams are ranked by (includes diversity penalties)
    finish: str | None = None

    def extended(self, token: int, logprob: float, score: float) -> Hypothesis:
        return Hypothesis(self.ids + [token], self.logprobs + [logprob], score)

    def normalised(self, length_penalty: float) -> float:
        return sum(self.logprobs) / max(len(self.logprobs), 1) ** length_penalty


class Finisher:
    """The stop rules: when a sequence ends (stop tokens, stop strings) and what its text is."""

    def __init__(self, settings: DecodeSettings, decode: Decode):
        self.settings = settings
        self.decode = decode

    def reason(self, ids: list[int]) -> str | None:
        if ids and ids[-1] in self.settings.stop_token_ids:
            return "eos" if ids[-1] == EOS_ID else "stop"
        if self.settings.stop_strings:
            tail = self.decode(ids[-16:])
            if any(s in tail for s in self.settings.stop_strings):
                return "stop"
        return None

    def result(self, hyp: Hypothesis, reason: str) -> Generation:
        ids = hyp.ids[:-1] if reason in ("eos", "stop") and hyp.ids[-1] in self.settings.stop_token_ids else hyp.ids
        text = self.decode(ids)
        for stop in self.settings.stop_strings:
            cut = text.find(stop)
            if cut != -1:
                text = text[:cut]
        return Generation(text, tuple(hyp.ids), tuple(hyp.logprobs), reason)
