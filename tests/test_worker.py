"""The engine worker: one thread, priorities, cancellation, and an event loop that never waits."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import pytest

from galactica_lsp.engine.decoding import Cancelled
from galactica_lsp.engine.worker import Priority, Worker


@pytest.fixture
def worker():
    w = Worker()
    yield w
    w.shutdown()


def blocker():
    """A job that holds the worker until released."""
    started, release = threading.Event(), threading.Event()

    def job(cancelled):
        started.set()
        release.wait(60)  # a bound, should a test fail before releasing it
        return "blocker"

    return job, started, release


def test_interactive_work_runs_before_background_work_queued_earlier(worker):
    job, started, release = blocker()
    worker.submit(job, Priority.CONTROL, "hold")
    assert started.wait(30)
    order = []
    jobs = [
        worker.submit(lambda c: order.append("explain"), Priority.BACKGROUND, "explain"),
        worker.submit(lambda c: order.append("complete"), Priority.INTERACTIVE, "complete"),
        worker.submit(lambda c: order.append("load"), Priority.CONTROL, "load"),
    ]
    release.set()
    concurrent.futures.wait([j.future for j in jobs], timeout=30)
    assert order == ["load", "complete", "explain"]


def test_only_one_job_runs_at_a_time(worker):
    running, peak = [0], [0]
    lock = threading.Lock()

    def job(cancelled):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1

    jobs = [worker.submit(job, Priority.INTERACTIVE, f"j{i}") for i in range(10)]
    concurrent.futures.wait([j.future for j in jobs], timeout=30)
    assert peak[0] == 1


def test_a_job_cancelled_before_it_starts_never_runs(worker):
    job, started, release = blocker()
    worker.submit(job, Priority.CONTROL, "hold")
    assert started.wait(30)
    ran = []
    queued = worker.submit(lambda c: ran.append(1), Priority.INTERACTIVE, "queued")
    queued.cancel()
    release.set()
    worker.call(lambda c: None, Priority.BACKGROUND, "after")
    assert ran == [] and queued.future.cancelled()


def test_a_running_job_sees_its_cancel_flag(worker):
    steps, started = [], threading.Event()

    def job(cancelled):
        started.set()
        while len(steps) < 10_000:
            if cancelled():
                raise Cancelled()
            steps.append(1)
            time.sleep(0.001)
        return "finished"

    running = worker.submit(job, Priority.INTERACTIVE, "long")
    assert started.wait(30)  # running, not merely queued
    running.cancel()
    with pytest.raises(Cancelled):
        running.future.result(timeout=30)
    assert len(steps) < 10_000
    assert worker.timings[-1].outcome == "cancelled"


def test_a_failing_job_reports_its_error_and_the_worker_goes_on(worker):
    def boom(cancelled):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        worker.call(boom, Priority.INTERACTIVE, "boom")
    assert worker.call(lambda c: 42, Priority.INTERACTIVE, "next") == 42


async def test_the_event_loop_keeps_running_while_a_job_runs(worker):
    job, started, release = blocker()
    pending = asyncio.ensure_future(worker.run(job, Priority.INTERACTIVE, "hold"))
    ticks = 0
    while not started.is_set() or ticks < 20:
        await asyncio.sleep(0.001)
        ticks += 1
    assert not pending.done()
    release.set()
    assert await pending == "blocker"


async def test_cancelling_the_awaiting_task_cancels_the_job(worker):
    seen, started = threading.Event(), threading.Event()

    def job(cancelled):
        started.set()
        while not cancelled():
            time.sleep(0.001)
        seen.set()
        raise Cancelled()

    task = asyncio.ensure_future(worker.run(job, Priority.INTERACTIVE, "long"))
    assert await asyncio.to_thread(started.wait, 30)  # the job runs: cancelling must reach it through its flag
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(seen.wait, 5)


def test_shutdown_cancels_queued_jobs_and_flags_the_running_one():
    w = Worker()
    job, started, release = blocker()
    holding = w.submit(job, Priority.CONTROL, "hold")
    assert started.wait(30)
    ran = []
    queued = w.submit(lambda c: ran.append(1), Priority.INTERACTIVE, "queued")
    w.shutdown(wait=False)  # while "hold" still runs, so "queued" has certainly not started
    assert queued.future.cancelled() and holding.cancelled()
    with pytest.raises(RuntimeError, match="shut down"):
        w.submit(lambda c: 1, Priority.INTERACTIVE, "late")
    release.set()
    w._thread.join(30)
    assert not w._thread.is_alive() and ran == [] and holding.future.result() == "blocker"
