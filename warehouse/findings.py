"""The reconciliation findings: their catalog, and the ones that block a month's close.

The findings are computed in SQL (dbt_project/models/reconciliation) into
marts.fct_billing_mismatches. The catalog (the dbt seed `check_catalog`) is the one place that
names each finding: fct_billing_mismatches' findings must be in it (a dbt test says so), the
Dagster checks are built from it (orchestration/defs/quality/reconciliation.py), and a test
holds the documentation's table of checks to it.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from lake.home import Home
from warehouse.dbt import DBT_PROJECT_DIR
from warehouse.reader import MissingTable
from warehouse.reading import reading

CATALOG = DBT_PROJECT_DIR / "seeds" / "check_catalog.csv"


def load_catalog(path: Path = CATALOG) -> dict[str, tuple[tuple[str, ...], str]]:
    """Dagster check -> (the findings it owns, what it verifies)."""
    checks: dict[str, tuple[list[str], str]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            findings, about = checks.setdefault(row["dagster_check"], ([], ""))
            findings.append(row["finding"])
            checks[row["dagster_check"]] = (findings, about or row["about"])
    return {name: (tuple(found), about) for name, (found, about) in checks.items()}


def blocking_findings(home: Home, month: dt.date) -> dict[str, int]:
    """Error-severity findings that stop `month` from being issued: those of the month or any
    earlier one, and those tied to no period (lost rows). check_name -> count."""
    if not home.has_warehouse():
        return {}
    with reading(home) as warehouse:
        try:
            rows = warehouse.rows(
                "select check_name, count(*) from marts.fct_billing_mismatches "
                "where severity = 'error' and (period_start is null or period_start <= :month) "
                "group by 1 order by 1",
                month=month,
            )
        except MissingTable:  # the marts are not built yet
            return {}
    return dict(rows)


def audit_findings(home: Home) -> dict[str, int]:
    """What the full audit of the lake (`audit.audit_lake`, built by month close just before
    issuing) found: check_name -> count."""
    with reading(home) as warehouse:
        rows = warehouse.rows("select check_name, count(*) from audit.audit_lake group by 1")
    return dict(rows)
