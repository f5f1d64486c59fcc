"""Peak memory as a step reports it in the run log (and `make bench` prints it)."""

import subprocess
import sys

from orchestration.memory import ChildPeak, describe, own_peak_gib, reset_own_peak


def test_a_child_process_peak_is_measured_while_it_runs():
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(1.5)",
        ]
    )
    peak = ChildPeak(child.pid, every=0.1)
    child.wait()
    gib = peak.stop()
    assert gib is not None and 0.29 < gib < 1.0


def test_a_step_measures_its_own_peak_from_when_it_starts():
    block = bytearray(400 * 2**20)
    block[::4096] = b"x" * len(block[::4096])  # touched, so resident
    before = own_peak_gib()
    del block
    reset_own_peak()
    after = own_peak_gib()
    assert before is not None and after is not None
    assert before - after > 0.3  # the 400 MiB freed before the reset no longer counts


def test_the_log_line_names_the_figure():
    assert describe(1.234) == "peak memory: 1.23 GiB"
    assert describe(None) == "peak memory: not measured"
