"""Reconciliation checks: each reads its findings from marts.fct_billing_mismatches.

The findings are computed in SQL (models/reconciliation); these asset checks turn them into
pass/fail with a severity, so the run's exit status, alerts and the Dagster UI all show them.
"""

import csv
import datetime as dt
from pathlib import Path

import dagster as dg

from lake.home import Home
from orchestration.defs.dbt.project import DBT_PROJECT_DIR
from orchestration.settings import TallySettings
from orchestration.warehouse import MissingTable, reading

CATALOG = DBT_PROJECT_DIR / "seeds" / "check_catalog.csv"


def load_catalog(path: Path = CATALOG) -> dict[str, tuple[tuple[str, ...], str]]:
    """The check catalog, one place for every reconciliation finding: the dbt seed
    `check_catalog` (fct_billing_mismatches' findings must be in it, a dbt test says so), the
    Dagster checks below, and the README table (a test holds it to the catalog).
    Dagster check -> (the findings it owns, what it verifies)."""
    checks: dict[str, tuple[list[str], str]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            findings, about = checks.setdefault(row["dagster_check"], ([], ""))
            findings.append(row["finding"])
            checks[row["dagster_check"]] = (findings, about or row["about"])
    return {name: (tuple(found), about) for name, (found, about) in checks.items()}


RECONCILIATION_CHECKS = load_catalog()


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(name, asset="fct_billing_mismatches", description=about)
        for name, (_, about) in RECONCILIATION_CHECKS.items()
    ],
    name="reconciliation",
    pool="warehouse",
)
def reconciliation(context: dg.AssetCheckExecutionContext, settings: TallySettings):
    with reading(settings.tally_home) as warehouse:
        rows = warehouse.rows(
            "select check_name, severity, count(*) from marts.fct_billing_mismatches group by 1, 2"
        )
    found: dict[str, dict[str, int]] = {}
    for check_name, severity, n in rows:
        found.setdefault(check_name, {})[severity] = n
    for name, (owned, _) in RECONCILIATION_CHECKS.items():
        counts = {c: sum(found.get(c, {}).values()) for c in owned}
        errors = sum(found.get(c, {}).get("error", 0) for c in owned)
        total = sum(counts.values())
        yield dg.AssetCheckResult(
            check_name=name,
            asset_key="fct_billing_mismatches",
            passed=total == 0,
            severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
            description=(
                "no findings"
                if total == 0
                else ", ".join(f"{c}: {n}" for c, n in counts.items() if n)
                + " (see marts.fct_billing_mismatches)"
            ),
            metadata={"findings": total, "blocking": errors, **counts},
        )


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


def describe_blocking(month: dt.date, findings: dict[str, int]) -> str:
    listed = ", ".join(f"{name} x{n}" for name, n in findings.items())
    return (
        f"not closing {month:%Y-%m}: {sum(findings.values())} blocking finding(s) ({listed}); "
        "see marts.fct_billing_mismatches where severity = 'error'"
    )
