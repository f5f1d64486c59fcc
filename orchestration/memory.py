"""Peak memory of a step, written to the run's log (the UI shows it; `make bench` reads it).

Linux keeps each process's high-water mark of resident memory (`VmHWM`). A step in this
process resets it when it starts (`clear_refs`), so the mark it reads at the end is its own;
a step that runs a child (dbt) samples the child's mark while it runs. Elsewhere (no /proc)
nothing is reported.
"""

from __future__ import annotations

import contextlib
import re
import threading
from pathlib import Path

LOG_PREFIX = "peak memory: "
_HWM = re.compile(r"^VmHWM:\s+(\d+) kB", re.MULTILINE)


def _hwm_gib(pid: int | str) -> float | None:
    try:
        found = _HWM.search(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None
    return int(found.group(1)) / (1024 * 1024) if found else None


def reset_own_peak() -> None:
    """Start this process's high-water mark again from its current size."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def own_peak_gib() -> float | None:
    return _hwm_gib("self")


class ChildPeak:
    """Samples a child process's high-water mark until it ends (or `stop()`), twice a second:
    the mark only rises, so a sample misses at most the growth of the child's last half
    second."""

    def __init__(self, pid: int, every: float = 0.5):
        self._pid, self._every = pid, every
        self._stop = threading.Event()
        self.gib: float | None = None
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while True:
            seen = _hwm_gib(self._pid)
            if seen is None:  # the child has ended
                return
            self.gib = max(self.gib or 0.0, seen)
            if self._stop.wait(self._every):
                return

    def stop(self) -> float | None:
        self._stop.set()
        self._thread.join()
        return self.gib


def describe(gib: float | None) -> str:
    return f"{LOG_PREFIX}{gib:.2f} GiB" if gib is not None else f"{LOG_PREFIX}not measured"
