"""One tally command per home: a second one is refused with a reason, not left waiting."""

import os

import pytest

from orchestration.runner import HomeBusy, _one_command_per_home

REFUSED = r"another tally command is running in this home \(pid \d+\)"


def test_a_second_command_in_the_same_home_is_refused_and_told_who_holds_it(tmp_path):
    with _one_command_per_home(tmp_path):
        second = _one_command_per_home(tmp_path)
        with pytest.raises(HomeBusy, match=REFUSED):
            second.__enter__()


def test_the_home_is_free_again_once_the_command_ends(tmp_path):
    with _one_command_per_home(tmp_path):
        pass
    with _one_command_per_home(tmp_path):
        assert (tmp_path / "tally.lock").read_text().startswith("pid ")


def test_a_nightly_waits_for_a_live_micro_batch_and_then_runs(tmp_path):
    import threading
    import time

    from orchestration.runner import MICRO_BATCH

    holding, release = threading.Event(), threading.Event()

    def micro_batch():
        with _one_command_per_home(tmp_path, what=MICRO_BATCH):
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=micro_batch)
    worker.start()
    holding.wait(10)
    threading.Timer(0.5, release.set).start()
    said = []
    began = time.monotonic()
    with _one_command_per_home(tmp_path, what="nightly_billing", wait_for_live=said.append):
        waited = time.monotonic() - began
        assert (tmp_path / "tally.lock").read_text().endswith(", nightly_billing")
    worker.join()
    assert said == [f"waiting for pid {os.getpid()}, a live micro-batch to finish"]
    assert waited >= 0.4


def test_a_micro_batch_never_starts_inside_a_nightly(tmp_path):
    with _one_command_per_home(tmp_path, what="nightly_billing"):
        with pytest.raises(HomeBusy, match=r"\(pid \d+, nightly_billing\)"):
            _one_command_per_home(tmp_path, what="a live micro-batch").__enter__()
        # A command that would wait for a micro-batch does not wait for a nightly either.
        with pytest.raises(HomeBusy):
            _one_command_per_home(tmp_path, wait_for_live=print).__enter__()
