"""How many CPU cores other processes keep busy right now, and so how many the model may use.

Owns :class:`CoreMeter`: from the machine's CPU time (``/proc/stat``) and
this process's own (``os.times``) between two samples, the cores the rest of
the machine used meanwhile, and from that the intra-op threads a phase
should run on: every core nobody else is using (at least one). On a
system without ``/proc/stat`` it answers every core but one.

Why (``benchmarks/threads.py``, 125m shape, this project's 2-core machine):
with nothing else running, two threads prefilled 1.79× faster than one and
ran five beams 1.26× faster; beside one busy process the same two threads
were 1.67× and 2.7× slower than one, because every operation waits for the
thread whose core the other process holds. So the count follows the
machine, sampled before each phase: a cheap read of one file.

Nothing here imports torch.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

PROC_STAT = Path("/proc/stat")
MIN_WINDOW_S = 0.2  # a shorter window since the last sample keeps the last estimate (too few clock ticks)
IGNORED_CORES = 0.3  # others' use below this much of a core (an idle editor, a clock) leaves every core free


def machine_busy_seconds(path: Path = PROC_STAT) -> float | None:
    """CPU seconds all processes have spent busy since boot (``/proc/stat``'s first line), or None without it."""
    try:
        with path.open() as f:
            fields = f.readline().split()
    except OSError:
        return None
    if len(fields) < 5 or fields[0] != "cpu":
        return None
    ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds this process (all its threads) has used."""
    t = os.times()
    return t.user + t.system


class CoreMeter:
    """The cores other processes used between two samples; sampled on the worker thread before each phase."""

    def __init__(
        self,
        busy: Callable[[], float | None] = machine_busy_seconds,
        own: Callable[[], float] = own_cpu_seconds,
        clock: Callable[[], float] = time.monotonic,
        logical: int | None = None,
    ):
        self._busy, self._own, self._clock = busy, own, clock
        self.logical = logical or os.cpu_count() or 1
        self._last: tuple[float, float, float] | None = None
        self.others = 0.0  # logical CPUs the other processes kept busy over the last window

    def sample(self) -> float | None:
        """Logical CPUs other processes used since the last sample (the previous figure when too soon); None
        where the machine's CPU time cannot be read."""
        busy = self._busy()
        if busy is None:
            return None
        now = (self._clock(), busy, self._own())
        last = self._last
        if last is None:
            self._last = now
            return self.others
        window = now[0] - last[0]
        if window < MIN_WINDOW_S:
            return self.others
        self.others = max(0.0, ((now[1] - last[1]) - (now[2] - last[2])) / window)
        self._last = now
        return self.others

    def free(self, cores: int) -> int:
        """Intra-op threads for ``cores`` physical cores: those the other processes leave free, at least one."""
        others = self.sample()
        if others is None:
            return max(1, cores - 1)  # no way to tell: leave one to the editor
        taken = math.ceil(others * cores / self.logical - IGNORED_CORES)  # logical CPUs to physical cores
        return max(1, min(cores, cores - max(0, taken)))
