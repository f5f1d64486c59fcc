"""Where the dbt project is, and a fingerprint of its models, without importing dbt or Dagster
(the CLI asks before it starts either)."""

import hashlib
import os
import sys
from pathlib import Path

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
# The dbt installed beside this interpreter: an unactivated venv works too.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
# What dbt writes inside the project folder: not sources.
BUILD_OUTPUT = frozenset({"target", "logs", "dbt_packages", ".user.yml"})


def models_fingerprint() -> str:
    """sha256 of the project's manifest and of every source file of the project (models,
    macros, tests, seeds, its configuration). The manifest alone changes with any model, test
    or macro, but only once `make install` rebuilds it: code updated without that would have
    left a run with no new data answering "nothing new" over marts the old SQL built."""
    digest = hashlib.sha256(MANIFEST.read_bytes())
    for path in _project_sources():
        digest.update(path.relative_to(DBT_PROJECT_DIR).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _project_sources() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(DBT_PROJECT_DIR):
        top = Path(folder) == DBT_PROJECT_DIR
        dirs[:] = sorted(d for d in dirs if not (top and d in BUILD_OUTPUT))
        found.extend(
            Path(folder) / name for name in sorted(files) if not (top and name in BUILD_OUTPUT)
        )
    return found
