"""One tally command per home: a second one is refused with a reason, not left waiting."""

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
