"""`make docs`: dbt's documentation site for a home's warehouse: every model's description,
lineage, and each mart column with its description and type, read from the built warehouse.

    .venv/bin/python -m cli.docs --home data            # build, then serve on :8080
    .venv/bin/python -m cli.docs --home data --no-serve # build only

The site is written under the home (`.dagster/dbt-docs/`), not into the repository.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from lake.home import Home
from warehouse.dbt import DBT_EXECUTABLE, DBT_PROJECT_DIR, run_profile


def docs_folder(home: Home) -> Path:
    return home.dagster_home / "dbt-docs"


def _dbt(args: list[str], profiles: Path, target: Path) -> int:
    command = [str(DBT_EXECUTABLE), "--no-use-colors", *args]
    command += ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(profiles)]
    command += ["--target-path", str(target)]
    return subprocess.run(command, env={**os.environ, "DO_NOT_TRACK": "1"}, check=False).returncode


def build(home: Home, *, serve: bool = False, port: int = 8080) -> int:
    """Generate the site from the home's warehouse (and serve it); dbt's exit status."""
    if not home.has_warehouse():
        print(f"tally docs: no warehouse in {home.root}: run `tally run` (or `make demo`) first")
        return 2
    target = docs_folder(home)
    with tempfile.TemporaryDirectory() as profiles:
        profile = run_profile(home, home.warehouse, "1GB")
        Path(profiles, "profiles.yml").write_text(yaml.safe_dump(profile), encoding="utf-8")
        status = _dbt(["docs", "generate"], Path(profiles), target)
        if status == 0:
            print(f"dbt docs: {target / 'index.html'}")
        if status == 0 and serve:
            print(f"serving on http://localhost:{port} (Ctrl-C to stop)")
            status = _dbt(
                ["docs", "serve", "--port", str(port), "--no-browser"], Path(profiles), target
            )
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cli.docs", description=__doc__)
    parser.add_argument("--home", type=Path, default=Path("data"), help="the tally home")
    parser.add_argument("--port", type=int, default=8080, help="where to serve (8080)")
    parser.add_argument("--no-serve", action="store_true", help="build the site only")
    args = parser.parse_args(argv)
    return build(Home.at(args.home), serve=not args.no_serve, port=args.port)


if __name__ == "__main__":
    sys.exit(main())
