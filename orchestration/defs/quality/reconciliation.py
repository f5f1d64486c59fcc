"""Reconciliation checks: each reads its findings from marts.fct_billing_mismatches.

The findings are computed in SQL (models/reconciliation); these asset checks turn them into
pass/fail with a severity, so the run's exit status, alerts and the Dagster UI all show them.
"""

import dagster as dg

from orchestration.settings import TallySettings
from warehouse.findings import load_catalog
from warehouse.reading import reading

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
