"""The one thread that owns the model.

Owns: a priority queue of jobs and the single worker thread that runs them,
so at most one generation is on the device at a time; per-job cancellation
flags that the decoding loop polls every step; futures that the asyncio event
loop awaits without ever blocking on the model; and the timings of the last
jobs for the status command.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from .types import Cancelled, Priority, Timing  # noqa: F401 (Priority and Timing re-exported)

log = logging.getLogger(__name__)
T = TypeVar("T")


class Job(Generic[T]):
    """A unit of model work: a function of the cancellation check, and its future."""

    def __init__(self, fn: Callable[[Callable[[], bool]], T], priority: Priority, label: str):
        self.fn = fn
        self.priority = priority
        self.label = label
        self.future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self.submitted = time.monotonic()
        self.superseded = False  # set when a newer request for the same place replaced this one
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Stop the job: before it starts it never runs; while running, decoding stops at its next step."""
        self._cancel.set()
        self.future.cancel()

    def cancelled(self) -> bool:
        return self._cancel.is_set()


class Worker:
    """Runs jobs one at a time on a dedicated thread, most urgent first, oldest first within a priority."""

    def __init__(self, name: str = "galactica-engine", keep_timings: int = 32):
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.timings: deque[Timing] = deque(maxlen=keep_timings)
        self.current: Job | None = None
        self._closed = False
        self._thread.start()

    def submit(self, fn: Callable[[Callable[[], bool]], T], priority: Priority, label: str) -> Job[T]:
        if self._closed:
            raise RuntimeError("the engine worker has shut down")
        job = Job(fn, priority, label)
        self._queue.put((int(priority), next(self._order), job))
        return job

    async def run(self, fn: Callable[[Callable[[], bool]], T], priority: Priority, label: str) -> T:
        """Await a job from the event loop; cancelling the awaiting task cancels the job."""
        job = self.submit(fn, priority, label)
        try:
            return await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            job.cancel()
            raise

    def call(self, fn: Callable[[Callable[[], bool]], T], priority: Priority, label: str) -> T:
        """Run a job and wait for it (for the command line, which has no event loop)."""
        return self.submit(fn, priority, label).future.result()

    def pending(self) -> int:
        return self._queue.qsize()

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> bool:
        """Cancel the running job, drop queued ones, stop the thread; whether it has stopped.

        With ``wait``, waits for the running job to see its cancel flag and the thread to end
        (at most ``timeout`` seconds when given).
        """
        self._closed = True
        if self.current is not None:
            self.current.cancel()
        while True:
            try:
                _, _, job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel()
        self._queue.put((-1, -1, None))
        if wait:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            if not job.future.set_running_or_notify_cancel():
                self.timings.append(Timing(job.label, time.monotonic() - job.submitted, 0.0, "cancelled"))
                continue
            self.current = job
            started = time.monotonic()
            result = error = None
            outcome = "done"
            try:
                result = job.fn(job.cancelled)
            except Cancelled:
                outcome = "cancelled"
                # A fresh exception: the caught one's traceback would keep the
                # decoding frames, and with them the KV cache, alive.
                error = Cancelled(f"{job.label} cancelled")
            except BaseException as exc:  # the worker must outlive any job
                outcome = "error"
                log.info("%s failed: %s", job.label, exc)
                log.debug("%s failed", job.label, exc_info=True)
                error = exc.with_traceback(None)  # logged above; frees the frames
            self.current = None
            # The timing is kept before the caller hears the result, so a status request right after sees it.
            self.timings.append(Timing(job.label, started - job.submitted, time.monotonic() - started, outcome))
            if error is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(error)
            del result, error
