"""The demo world's budgets.csv, derived from what its billing system billed."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import polars as pl


def budgets(billed: pl.DataFrame) -> pl.DataFrame:
    """budgets.csv for the customers whose number ends in 1, 5 or 9: a tenth above what their first month was billed
    (rounded up to a whole amount), so the months after cross some thresholds and some go over.
    Every eighth notifies at 25% steps; the others at the default 50;80;100."""
    columns = ("customer_id", "monthly_budget", "thresholds")
    if billed.is_empty():  # no complete month billed yet: nothing to budget from
        return pl.DataFrame(schema={c: pl.String for c in columns})
    first = (
        billed.with_columns(pl.col("subtotal").cast(pl.Decimal(38, 4)))
        .sort("period_start")
        .group_by("customer_id", maintain_order=True)
        .first()
        .filter(pl.col("customer_id").str.slice(-1).is_in(["1", "5", "9"]))
        .sort("customer_id")
    )
    rows = []
    for i, r in enumerate(first.iter_rows(named=True)):
        budget = (r["subtotal"] * Decimal("1.1")).to_integral_value(rounding=ROUND_CEILING)
        rows.append(
            {
                "customer_id": r["customer_id"],
                "monthly_budget": str(max(budget, Decimal(10))),
                "thresholds": "25;50;75;100" if i % 2 else "",
            }
        )
    return pl.DataFrame(rows, schema={c: pl.String for c in columns})
