"""The installed `tally` script leaves without interpreter teardown: output and status must survive."""

import os
import subprocess
import sys
from pathlib import Path

TALLY = Path(sys.executable).with_name("tally")


def test_piped_output_and_success_status_survive_the_fast_exit(tmp_path):
    args = [str(TALLY), "generate", "--home", str(tmp_path), "--customers", "3", "--days", "2"]
    args += ["--events-per-day", "50"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # The last line printed, after every file was written.
    assert proc.stdout.rstrip().splitlines()[-1].startswith("generated ")
    assert (tmp_path / "landing" / "reference" / "customers.csv").exists()


def test_an_error_status_and_its_message_survive_the_fast_exit(tmp_path):
    args = [
        str(TALLY),
        "run",
        "--home",
        str(tmp_path),
        "--from",
        "2026-09-02",
        "--to",
        "2026-09-01",
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "tally: --to 2026-09-01 is before --from 2026-09-02"


def test_output_to_a_reader_that_has_gone_neither_fails_nor_stops_the_command(tmp_path):
    """`tally ... | head -1`: the reader leaves before the command has printed all it has."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # gone before the first line
    args = [str(TALLY), "generate", "--home", str(tmp_path), "--customers", "3", "--days", "2"]
    args += ["--events-per-day", "50"]
    try:
        proc = subprocess.run(
            args, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no BrokenPipeError, no traceback
    # The whole world was written, its last file included.
    assert (tmp_path / "landing" / "reference" / "budgets.csv").exists()
