"""Reconciliation checks: each reads its findings from marts.fct_billing_mismatches.

The findings are computed in SQL (models/reconciliation); these asset checks turn them into
pass/fail with a severity, so the run's exit status, alerts and the Dagster UI all show them.
"""

import datetime as dt

import dagster as dg
import duckdb

from lake.home import Home
from orchestration.settings import TallySettings

# Dagster check -> (the check_name values it owns, what it verifies)
RECONCILIATION_CHECKS = {
    "rows_conserved": (
        (
            "conservation_per_file",
            "conservation_lake",
            "conservation_usage_daily",
            "event_id_reused",
        ),
        "Every raw row is accepted, quarantined or a counted duplicate, no accepted event is "
        "lost between the lake and fct_usage_daily, and no event_id is in the lake twice.",
    ),
    "usage_matches_invoices": (
        ("usage_differs_from_invoice",),
        "Billable usage in fct_usage_daily equals the quantity on each draft invoice.",
    ),
    "usage_has_a_subscription": (
        ("usage_without_subscription",),
        "Every usage event falls on a day its customer has a subscription; usage that nothing "
        "bills is revenue leakage (or a wrong timestamp) for a person to look at.",
    ),
    "no_pending_adjustments": (
        ("adjustment_pending",),
        "Every difference between an issued invoice and what it would be today (late usage, "
        "price changes) has been carried onto a later issued invoice.",
    ),
    "lines_sum_to_subtotal": (
        ("lines_differ_from_subtotal",),
        "The lines of every invoice add up to its subtotal.",
    ),
    "total_is_subtotal_minus_credits": (
        ("total_differs_from_credits",),
        "Every invoice total is subtotal minus credits applied, never negative.",
    ),
    "credits_match_ledger": (
        ("credits_differ_from_ledger",),
        "Credits applied to each issued invoice equal its consumption in the credit ledger.",
    ),
    "deferred_revenue_rolls_forward": (
        ("deferred_roll_forward_broken",),
        "Deferred revenue: opening + purchases - credit revenue - breakage = closing, month "
        "after month, and equals purchases less revenue recognized to date.",
    ),
    "agrees_with_billing_system": (
        (
            "invoice_missing_in_billing_system",
            "invoice_missing_in_tally",
            "subtotal_differs",
            "credits_differ",
            "total_differs",
        ),
        "tally's invoices agree with billed_invoices.csv within the tolerance.",
    ),
}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(name, asset="fct_billing_mismatches", description=about)
        for name, (_, about) in RECONCILIATION_CHECKS.items()
    ],
    name="reconciliation",
    pool="warehouse",
)
def reconciliation(context: dg.AssetCheckExecutionContext, settings: TallySettings):
    with duckdb.connect(str(settings.tally_home.warehouse), read_only=True) as con:
        rows = con.execute(
            "select check_name, severity, count(*) from marts.fct_billing_mismatches group by 1, 2"
        ).fetchall()
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
    if not home.warehouse.exists():
        return {}
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        try:
            rows = con.execute(
                "select check_name, count(*) from marts.fct_billing_mismatches "
                "where severity = 'error' and (period_start is null or period_start <= ?) "
                "group by 1 order by 1",
                [month],
            ).fetchall()
        except duckdb.CatalogException:  # the marts are not built yet
            return {}
    return dict(rows)


def describe_blocking(month: dt.date, findings: dict[str, int]) -> str:
    listed = ", ".join(f"{name} x{n}" for name, n in findings.items())
    return (
        f"not closing {month:%Y-%m}: {sum(findings.values())} blocking finding(s) ({listed}); "
        "see marts.fct_billing_mismatches where severity = 'error'"
    )
