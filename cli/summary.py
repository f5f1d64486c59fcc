"""What a billing engineer wants to see after a run or a close, read from the marts: what this
command did, then the totals to date, with recognized revenue bridged to what was invoiced."""

import datetime as dt
import functools
from decimal import Decimal

from lake.home import Home
from transforms.money import amount_text
from warehouse.figures import Intake, summary_figures


def print_summary(home: Home, since: dt.datetime | None = None, *, closing: bool = False) -> None:
    """`since`: when the command began; what it ingested and issued is shown apart. A close
    (`closing`) always says how many invoices it issued, none included."""
    f = summary_figures(home, since)
    if f is None:
        return
    print("summary:")
    if since is not None:
        print("  this run")
        if f.new.files:
            _intake(f.new, "new files")
        else:
            print("    new files                     0   (nothing new landed)")
        for currency, count, total in f.issued_now:
            print(f"    invoices issued {count:>8,}   {currency} {_money(total, currency)}")
        if closing and not f.issued_now:
            print(f"    invoices issued {0:>8,}")
        if f.notified_now:
            print(f"    spend notifications {f.notified_now:>12,}   (alerts/notifications.jsonl)")
        print("  to date")
    _intake(f.total, "files ingested")
    for path, error in f.newest_unreadable:  # newest first; each is quarantined whole
        print(f"      unreadable: {path}: {error}")
    if f.total.unreadable > len(f.newest_unreadable):
        more = f.total.unreadable - len(f.newest_unreadable)
        print(f"      ... {more:,} more in marts.fct_ingested_files where status = 'failed'")
    print(
        f"    conservation        {'holds' if f.total.conserved else 'BROKEN':>12}   "
        "(read = accepted + quarantined + duplicates)"
    )
    for status, currency, count, total in f.invoices:
        print(f"    invoices {status:<7} {count:>8,}   {currency} {_money(total, currency)}")
    for r in f.revenue:
        money = functools.partial(_money, currency=r.currency)
        print(
            f"    revenue recognized          {r.currency} {money(r.recognized)}   "
            "(marts.fct_revenue_monthly)"
        )
        print(
            f"      = invoiced {money(r.billed)} + prepaid credits used {money(r.credits)}"
            f" + expired credits {money(r.breakage)}"
        )
    print(f"    billing mismatches  {f.mismatches:>12,}   (marts.fct_billing_mismatches)")
    print(f"    spend notifications {f.notified:>12,}   (marts.fct_spend_notifications)")
    index = home.reports / "index.html"
    if index.exists():
        print(f"  reports: {index}")


def _money(amount: Decimal, currency: str) -> str:
    """Grouped, in the currency's minor units (`1,143.75` USD, `1,250` JPY)."""
    return amount_text(amount, currency, grouped=True)


def _intake(intake: Intake, files: str) -> None:
    print(f"    {files:<19} {intake.files:>12,}   unreadable {intake.unreadable:,}")
    print(f"    raw rows read       {intake.rows_read:>12,}")
    print(f"    events accepted     {intake.rows_accepted:>12,}")
    print(f"    rows quarantined    {intake.rows_quarantined:>12,}")
    print(f"    duplicates dropped  {intake.duplicates_dropped:>12,}")
