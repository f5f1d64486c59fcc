"""Where the dbt project is, and a fingerprint of its models, without importing dbt or Dagster
(the CLI asks before it starts either)."""

import hashlib
import sys
from pathlib import Path

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
# The dbt installed beside this interpreter: an unactivated venv works too.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"


def models_fingerprint() -> str:
    """sha256 of the project's manifest: it changes with any model, test or macro."""
    return hashlib.sha256(MANIFEST.read_bytes()).hexdigest()
