"""What the server and the command line ask of Galactica, and the engine that runs it.

Owns: :class:`Galactica`, the tasks over a loaded model (continue a text,
suggest references, explain a formula in words, step by step or as SymPy),
each run on the worker thread with the cancellation check threaded through;
and :class:`Engine`, which holds the worker and the current model, loads and
swaps models as control jobs, and answers status questions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from .galactica import (
    END_REF_ID,
    EOS_ID,
    START_REF,
    Reference,
    clean_reference,
    decode,
    escape_sequences,
    explain_prompt,
    reference_prompt,
    sympy_prompt,
    work_prompt,
)
from .types import (  # noqa: F401 (the plain types are re-exported for the callers of this module)
    EXPLAIN_MODES,
    Cancelled,
    Citations,
    Confidence,
    DecodeSettings,
    Generation,
    ModelNotReady,
    Priority,
    ProgressCallback,
    Suggestion,
)
from .backend import Backend, pick
from .worker import Job, Worker

if TYPE_CHECKING:
    from .loading import LoadedModel

log = logging.getLogger(__name__)
T = TypeVar("T")

class Galactica:
    """The tasks, over one loaded model's backends. Called on the worker thread only.

    Each request goes to the first backend that handles its decoding (see
    ``backend.pick``); nothing here knows which backends there are.
    """

    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.max_positions = loaded.shape.max_positions
        self.backends: tuple[Backend, ...] = loaded.backends
        self.served = dict.fromkeys((b.name for b in self.backends), 0)  # requests per backend
        self.last_engine: str | None = None
        self.snapshot: dict = {}  # what status() shows; replaced (never changed) on the worker thread
        self.publish()

    def warm_up(self) -> None:
        """Run each kind of forward pass once (a prefill, one from a cached prefix, decoding steps) and forget them.

        The first passes pay for allocations, kernel choices and lazy
        initialisation; done here, before the model is announced ready, they
        do not land on the user's first request.
        """
        text = "The Transformer architecture relies on attention"
        settings = DecodeSettings(max_new_tokens=3, stop_token_ids=())
        self.complete(text, settings, key="warm-up")
        self.complete(text + " and on", settings, key="warm-up")
        # Beams (citations, several suggestions) run on a backend that has them, whichever serves the rest.
        self.complete(text, replace(settings, strategy="beam", num_beams=2, num_return=2), key="warm-up")
        self.forget()

    def forget(self) -> None:
        """Drop every backend's stored prefixes and the request counts."""
        for backend in self.backends:
            backend.forget()
        self.served = dict.fromkeys(self.served, 0)
        self.last_engine = None
        self.publish()

    def publish(self) -> None:
        """Take the status snapshot here, on the worker thread, where the caches change."""
        engine: dict = {"served": dict(self.served), "last": self.last_engine}
        for backend in self.backends:
            engine.update(backend.status())
        self.snapshot = engine

    def encode(self, text: str, budget: int, new_document: bool = False) -> list[int]:
        """Token ids of ``text`` (sequence spans escaped), at most ``budget`` of them, cut from its start.

        Over budget, the start is cut in steps of a quarter budget rather than
        token by token, so that the prompts of successive keystrokes keep the
        same start and the prefix cache serves them. A cut text no longer
        starts the document: it gets no new-document ``</s>``.
        """
        budget = max(budget, 1)
        ids = self.tokenizer(escape_sequences(text), add_special_tokens=False)["input_ids"]
        keep = budget - 1 if new_document else budget
        if len(ids) > keep:
            step = max(1, keep // 4)
            return ids[-(-(len(ids) - keep) // step) * step :]
        if new_document:
            return [EOS_ID] + ids
        return ids if ids else [EOS_ID]  # an empty text starts a new document

    def prompt_budget(self, settings: DecodeSettings, budget: int | None) -> int:
        """Prompt tokens allowed: ``budget`` (the user's contextTokens), and room for the new tokens in any case."""
        room = self.max_positions - settings.max_new_tokens
        return room if budget is None else min(budget, room)

    def generate(
        self,
        prompt: str,
        settings: DecodeSettings,
        cancelled: Callable[[], bool],
        new_document: bool = False,
        key: str = "",
        budget: int | None = None,
    ) -> list[Generation]:
        """Decode after ``prompt``, cut to ``budget`` tokens; ``key`` (a document) names the prefix slot it replaces."""
        ids = self.encode(prompt, self.prompt_budget(settings, budget), new_document)
        text_of = lambda t: decode(self.tokenizer, t)  # noqa: E731
        backend = pick(self.backends, settings)
        try:
            generations = backend.generate(ids, settings, text_of, cancelled, key)
        finally:
            self.served[backend.name] = self.served.get(backend.name, 0) + 1
            self.last_engine = backend.name
            self.publish()
        log.debug("%s served %s (%d prompt tokens, %d reused)", backend.name, key, len(ids),
                  generations[0].reused_tokens if generations else 0)
        return generations

    def complete(
        self,
        text: str,
        settings: DecodeSettings,
        cancelled: Callable[[], bool] = lambda: False,
        new_document=False,
        key: str = "complete",
        budget: int | None = None,
    ) -> list[Generation]:
        """Continue a text: ghost text and the completion menu; the prompt is at most ``budget`` tokens."""
        return self.generate(text, settings, cancelled, new_document, key, budget)

    def cite(
        self,
        text: str,
        suggestions: int = 5,
        diversity: float = 1.0,
        max_new_tokens: int = 48,
        cancelled: Callable[[], bool] = lambda: False,
        time_limit: float | None = None,
        budget: int | None = None,
    ) -> list[Suggestion]:
        """Reference suggestions for the end of ``text`` by galai's rules, most probable first.

        Only references the model closed with ``[END_REF]`` count (see :meth:`cite_counted`).
        """
        return self.cite_counted(text, suggestions, diversity, max_new_tokens, cancelled, time_limit,
                                 budget).suggestions

    def cite_counted(
        self,
        text: str,
        suggestions: int = 5,
        diversity: float = 1.0,
        max_new_tokens: int = 48,
        cancelled: Callable[[], bool] = lambda: False,
        time_limit: float | None = None,
        budget: int | None = None,
    ) -> Citations:
        """:meth:`cite`, with what became of the beams that gave no suggestion of their own.

        One beam group per suggestion when ``diversity`` > 0 (diverse beam
        search), so the suggestions are different papers, not one title's variants.
        """
        prompt = reference_prompt(text)
        typed = prompt[prompt.rfind(START_REF) + len(START_REF) :]  # a title the user began
        n = max(1, suggestions)
        settings = DecodeSettings(
            strategy="beam" if n > 1 else "greedy",
            max_new_tokens=max_new_tokens,
            num_beams=n,
            num_return=n,
            beam_groups=n if diversity > 0 else 1,
            diversity=diversity,
            stop_token_ids=(END_REF_ID, EOS_ID),
            time_limit=time_limit,
        )
        seen: set[str] = set()
        found: list[Suggestion] = []
        generations = self.generate(prompt, settings, cancelled, key="cite", budget=budget)
        incomplete = repeated = 0
        for gen in generations:
            if gen.finish_reason != "stop":
                incomplete += 1  # never closed with [END_REF]: a run-on, not a reference
                continue
            reference = clean_reference(typed + gen.text)
            key = " ".join(reference.casefold().split())
            if not reference:
                incomplete += 1
            elif key in seen:
                repeated += 1
            else:
                seen.add(key)
                found.append(Suggestion(Reference(reference), gen.confidence, gen.finish_reason))
        found.sort(key=lambda s: -s.confidence.total)
        return Citations(found, len(generations), incomplete, repeated)

    def explain(
        self,
        latex: str,
        mode: str = "explain",
        max_new_tokens: int = 96,
        cancelled: Callable[[], bool] = lambda: False,
        time_limit: float | None = None,
        budget: int | None = None,
    ) -> Generation:
        """A formula in plain English, step by step (``<work>``), or as SymPy code."""
        prompts = {"explain": explain_prompt, "work": work_prompt, "sympy": sympy_prompt}
        if mode not in prompts:
            raise ValueError(f"unknown explanation mode {mode!r}: choose one of {', '.join(EXPLAIN_MODES)}")
        settings = DecodeSettings(
            max_new_tokens=max_new_tokens,
            stop_strings=("```",) if mode == "sympy" else (),
            time_limit=time_limit,
        )
        generation = self.generate(prompts[mode](latex), settings, cancelled, new_document=True, key="explain",
                                   budget=budget)[0]
        text = generation.text.strip()
        return replace(generation, text=text)


class Engine:
    """The worker thread plus the model it owns; the one object the server and CLI hold."""

    def __init__(self, worker: Worker | None = None):
        self.worker = worker or Worker()
        self._galactica: Galactica | None = None
        self._lock = threading.Lock()
        self._loads = 0  # loads asked for so far: only the newest may swap its model in
        self.state = "empty"  # "empty" | "loading" | "ready" | "error"
        self.error: str | None = None

    @property
    def loaded(self) -> LoadedModel | None:
        galactica = self._galactica  # read once: a reload may swap it between two reads
        return galactica.loaded if galactica is not None else None

    def start_load(
        self,
        model: str,
        device: str = "auto",
        dtype: str = "auto",
        context_tokens: int = 2048,
        sequences: int = 1,
        report: ProgressCallback = lambda p: None,
        engine: str = "auto",
        endpoint: str = "",
    ) -> Job[LoadedModel]:
        """Queue a (re)load: check the new model, fetch its files, and only then drop the old one and load.

        Three stages; the returned job's future ends with the last one:

        1. the checks, a control job on the worker (the name, the device and
           dtype, the engine, the shape, the memory fit counting what the old
           model gives back, that the hub is reachable when the files are not
           cached; for vLLM, the endpoint and its model);
        2. the download, on a thread of its own: the old model keeps answering
           on the worker meanwhile, however long the files take;
        3. the swap, a control job on the worker: unload the old model, load
           the new one, warm it up.

        When a check or the download fails, the old model stays loaded and
        serving (``state`` stays "ready") and the future raises the error.
        A load asked for later replaces this one: from then on this one stops
        at its next stage and its future raises :class:`Cancelled` (its model
        never replaces the newer one, however long its download took).
        """
        with self._lock:
            if self.state != "ready":
                self.state, self.error = "loading", None
            self._loads += 1
            generation = self._loads
        handle: Job[LoadedModel] = Job(lambda cancelled: None, Priority.CONTROL, f"load {model}")

        def replaced() -> bool:
            return self._loads != generation

        def failed(exc: BaseException) -> None:
            """End the handle with ``exc``; once a newer load was asked for, with Cancelled (its state stands)."""
            if replaced():
                exc = Cancelled(f"load {model} replaced by a newer load")
            with self._lock:
                if self._galactica is None and not replaced():
                    self.state, self.error = "error", str(exc)
            if not handle.future.done():
                handle.future.set_exception(exc)

        def then(job: Job, next_stage: Callable[[object], None]) -> None:
            """Run ``next_stage`` with the job's result, or fail the handle with its error. A newer load stops
            this one between stages; a swap that finished is reported as done (its model serves until the newer
            one swaps in)."""

            def done(future) -> None:
                if handle.cancelled() or future.cancelled():
                    failed(Cancelled(f"load {model} cancelled"))
                elif future.exception() is not None:
                    failed(future.exception())
                elif replaced() and next_stage is not handle.future.set_result:
                    failed(Cancelled(f"load {model} replaced by a newer load"))
                else:
                    next_stage(future.result())

            job.future.add_done_callback(done)

        def check(cancelled: Callable[[], bool]):
            if engine == "vllm":  # a remote server: no weights here, no memory check
                from .vllm_backend import connect

                return connect(model, endpoint, report)
            from .loading import prepare

            return prepare(model, device, dtype, context_tokens, sequences, report, engine,
                           reclaimable=self._reclaimable())

        def fetch(checked) -> None:
            if engine == "vllm":  # connected: nothing to download
                return swap_to(checked, None)

            def download_files() -> None:
                from .loading import download

                try:
                    directory = download(checked.source, report)
                except BaseException as exc:  # network, disk: the old model keeps serving
                    failed(exc)
                    return
                swap_to(checked, directory)

            threading.Thread(target=download_files, name="galactica-download", daemon=True).start()

        def swap_to(checked, directory: str | None) -> None:
            def swap(cancelled: Callable[[], bool]) -> LoadedModel:
                from .loading import load_prepared

                if replaced():  # asked for after this swap was queued: the old model stays for the newer load
                    raise Cancelled(f"load {model} replaced by a newer load")
                with self._lock:
                    self.state, self.error = "loading", None
                self._unload()
                loaded = checked if directory is None else load_prepared(checked, directory, report)
                galactica = Galactica(loaded)
                warm = time.monotonic()
                galactica.warm_up()
                log.info("warm-up took %.0f ms", (time.monotonic() - warm) * 1000)
                with self._lock:
                    self._galactica, self.state = galactica, "ready"
                return loaded

            try:
                job = self.worker.submit(swap, Priority.CONTROL, f"load {model}")
            except RuntimeError as exc:  # the worker has shut down meanwhile
                failed(exc)
                return
            then(job, handle.future.set_result)

        then(self.worker.submit(check, Priority.CONTROL, f"check {model}"), fetch)
        return handle

    def preload(self) -> Job[None]:
        """Import torch and the forward pass on the worker thread now, ahead of a load still waiting for its settings."""

        def job(cancelled: Callable[[], bool]) -> None:
            from .loading import import_runtime

            started = time.monotonic()
            import_runtime()
            log.info("torch and the torch backend imported in %.2f s", time.monotonic() - started)

        return self.worker.submit(job, Priority.CONTROL, "import torch")

    def load(self, model: str, **kwargs) -> LoadedModel:
        """Load and wait (command line)."""
        return self.start_load(model, **kwargs).future.result()

    def _reclaimable(self) -> tuple[str, int]:
        """(device kind, bytes) the loaded model holds and gives back when unloaded."""
        loaded = self.loaded
        return (loaded.placement.kind, _memory_in_use(loaded)) if loaded is not None else ("", 0)

    def _unload(self) -> None:
        """Drop the model and everything kept for it: stored prefixes, request counts, the last engine."""
        with self._lock:
            old, self._galactica = self._galactica, None
            if self.state == "ready":
                self.state = "empty"
        if old is not None:
            from .devices import release_memory

            kind = old.loaded.placement.kind
            old.forget()
            del old
            release_memory(kind)

    def _task(self, task: Callable[[Galactica, Callable[[], bool]], T]) -> Callable[[Callable[[], bool]], T]:
        def job(cancelled: Callable[[], bool]) -> T:
            galactica = self._galactica
            if galactica is None:
                raise ModelNotReady(self.not_ready_reason())
            # A cancelled request's cache is freed by reference counting once the worker drops the exception;
            # no garbage collection here: a full collection costs ~0.1 s, which the next keystroke's request
            # would wait for, and on a GPU the allocator keeps the blocks for that request.
            return task(galactica, cancelled)

        return job

    def submit(self, task: Callable[[Galactica, Callable[[], bool]], T], priority: Priority, label: str) -> Job[T]:
        """Queue a task; raises :class:`ModelNotReady` at once rather than waiting for a load."""
        if self.state != "ready":
            raise ModelNotReady(self.not_ready_reason())
        return self.worker.submit(self._task(task), priority, label)

    async def run(self, task: Callable[[Galactica, Callable[[], bool]], T], priority: Priority, label: str) -> T:
        """Run a task on the worker from the event loop; cancelling the caller cancels the task."""
        if self.state != "ready":
            raise ModelNotReady(self.not_ready_reason())
        return await self.worker.run(self._task(task), priority, label)

    def call(self, task: Callable[[Galactica, Callable[[], bool]], T], label: str) -> T:
        """Run a task and wait (command line)."""
        return self.worker.call(self._task(task), Priority.INTERACTIVE, label)

    def not_ready_reason(self) -> str:
        if self.state == "loading":
            return "the model is still loading"
        if self.state == "error":
            return f"the model failed to load: {self.error}"
        return "no model is loaded"

    def status(self) -> dict:
        """The engine's state; safe from any thread (the cache figures are the worker's last snapshot)."""
        galactica = self._galactica
        status = {"state": self.state, "error": self.error, "queued": self.worker.pending()}
        if galactica is not None:
            loaded = galactica.loaded
            status.update(
                model=loaded.source.name,
                location=loaded.source.location,
                device=loaded.placement.kind,
                dtype=loaded.placement.dtype,
                parameters=loaded.shape.parameters,
                weightBytes=loaded.plan.weights,
                memoryInUse=_memory_in_use(loaded),
                loadSeconds=round(loaded.load_seconds, 3),
            )
            if loaded.precision is not None:
                status["precision"] = loaded.precision.status()  # what each phase runs in, and why
            snapshot = galactica.snapshot
            status["engine"] = {"name": loaded.engine, "asked": loaded.engine_requested, **snapshot}
            if "prefixCache" in snapshot:
                status["prefixCache"] = snapshot["prefixCache"]
        status["lastLatencies"] = [
            {"label": t.label, "waitedMs": round(t.waited * 1000, 1), "ranMs": round(t.ran * 1000, 1), "outcome": t.outcome}
            for t in list(self.worker.timings)[-8:]
        ]
        return status

    def shutdown(self) -> None:
        self.worker.shutdown()
        self._unload()


def _memory_in_use(loaded: LoadedModel) -> int:
    """Bytes the model holds on its device: allocator figures on GPUs, the weights' size on a CPU, none when remote."""
    if loaded.placement.kind == "remote":
        return 0
    import torch

    if loaded.placement.kind == "cuda":
        return sum(torch.cuda.memory_allocated(i) for i in range(torch.cuda.device_count()))
    if loaded.placement.kind == "mps":
        return torch.mps.current_allocated_memory()
    return sum(p.numel() * p.element_size() for p in loaded.model.parameters())
