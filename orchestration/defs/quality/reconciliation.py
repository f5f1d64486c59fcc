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
FINDINGS_PERIODS = "periods"  # metadata of a reconciliation check: where its findings belong


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
            "select check_name, severity, period_start, count(*) "
            "from marts.fct_billing_mismatches group by 1, 2, 3"
        )
    found: dict[str, dict[str, int]] = {}
    periods: dict[str, set] = {}  # the billing periods each finding kind belongs to
    for check_name, severity, period_start, n in rows:
        found.setdefault(check_name, {}).setdefault(severity, 0)
        found[check_name][severity] += n
        periods.setdefault(check_name, set()).add(period_start)
    for name, (owned, _) in RECONCILIATION_CHECKS.items():
        counts = {c: sum(found.get(c, {}).values()) for c in owned}
        errors = sum(found.get(c, {}).get("error", 0) for c in owned)
        total = sum(counts.values())
        where = set().union(*(periods.get(c, set()) for c in owned))
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
            metadata={
                "findings": total,
                "blocking": errors,
                **counts,
                # The alert names these, not the run's partition: a close of September
                # also reports what it found in October.
                FINDINGS_PERIODS: dg.MetadataValue.text(_periods(where)),
            },
        )


def _periods(periods: set) -> str:
    """The findings' billing periods as partition keys ("2026-09-01, 2026-10-01"); findings
    tied to no period (lost rows, a whole batch) read "no period"."""
    named = sorted(p.isoformat() for p in periods if p is not None)
    return ", ".join(named + (["no period"] if None in periods else []))


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
