"""What a billing engineer wants to see after a run or a close, read from the marts."""

from pathlib import Path

from lake.home import Home
from orchestration.warehouse import summary_figures


def print_summary(home: Path, engine: str = "duckdb") -> None:
    """Events, quarantine, unreadable files, invoices, revenue and findings, all time."""
    f = summary_figures(Home.at(home, engine))
    if f is None:
        return
    print("summary:")
    print(f"  files ingested      {f.files:>12,}   unreadable {f.unreadable:,}")
    for path, error in f.newest_unreadable:  # newest first; each is quarantined whole
        print(f"    unreadable: {path}: {error}")
    if f.unreadable > len(f.newest_unreadable):
        more = f.unreadable - len(f.newest_unreadable)
        print(f"    ... {more:,} more in marts.fct_ingested_files where status = 'failed'")
    print(f"  raw rows read       {f.rows_read:>12,}")
    print(f"  events accepted     {f.rows_accepted:>12,}")
    print(f"  rows quarantined    {f.rows_quarantined:>12,}")
    print(f"  duplicates dropped  {f.duplicates_dropped:>12,}")
    conserved = f.rows_read == f.rows_accepted + f.rows_quarantined + f.duplicates_dropped
    print(
        f"  conservation        {'holds' if conserved else 'BROKEN':>12}   "
        "(read = accepted + quarantined + duplicates)"
    )
    for status, currency, count, total in f.invoices:
        print(f"  invoices {status:<7} {count:>8,}   {currency} {total:,.2f}")
    for currency, amount in f.revenue:
        print(
            f"  revenue recognized          {currency} {amount:,.2f}   (marts.fct_revenue_monthly)"
        )
    print(f"  billing mismatches  {f.mismatches:>12,}   (marts.fct_billing_mismatches)")
