"""What a billing engineer wants to see after a run or a close, read from the marts."""

from pathlib import Path


def print_summary(home: Path) -> None:
    """What a billing engineer wants to see after a run: events, quarantine, invoices, revenue."""
    import duckdb

    from lake.home import Home

    warehouse = Home.at(home).warehouse
    if not warehouse.exists():
        return
    with duckdb.connect(str(warehouse), read_only=True) as con:
        files = con.execute(
            "select count(*), coalesce(sum(rows_read),0), coalesce(sum(rows_accepted),0), "
            "coalesce(sum(rows_quarantined),0), coalesce(sum(duplicates_dropped),0), "
            "count(*) filter (where status = 'failed') from marts.fct_ingested_files"
        ).fetchone()
        invoices = con.execute(
            "select status, currency, count(*), sum(total) from marts.fct_invoices group by all order by all"
        ).fetchall()
        unreadable = con.execute(
            "select file_path, error from marts.fct_ingested_files where status = 'failed' "
            "order by ingested_at desc, file_path limit 6"
        ).fetchall()
        mismatches = con.execute("select count(*) from marts.fct_billing_mismatches").fetchone()[0]
        revenue = con.execute(
            "select c.currency, sum(r.recognized_revenue) from marts.fct_revenue_monthly r "
            "join (select distinct customer_id, currency from marts.fct_invoices) c using (customer_id) "
            "group by 1 order by 1"
        ).fetchall()
    print("summary:")
    print(f"  files ingested      {files[0]:>12,}   unreadable {files[5]:,}")
    for path, error in unreadable[:5]:  # newest first; each is quarantined whole
        print(f"    unreadable: {path}: {error}")
    if files[5] > 5:
        print(f"    ... {files[5] - 5:,} more in marts.fct_ingested_files where status = 'failed'")
    print(f"  raw rows read       {files[1]:>12,}")
    print(f"  events accepted     {files[2]:>12,}")
    print(f"  rows quarantined    {files[3]:>12,}")
    print(f"  duplicates dropped  {files[4]:>12,}")
    conserved = files[1] == files[2] + files[3] + files[4]
    print(
        f"  conservation        {'holds' if conserved else 'BROKEN':>12}   (read = accepted + quarantined + duplicates)"
    )
    for status, currency, count, total in invoices:
        print(f"  invoices {status:<7} {count:>8,}   {currency} {total:,.2f}")
    for currency, amount in revenue:
        print(
            f"  revenue recognized          {currency} {amount:,.2f}   (marts.fct_revenue_monthly)"
        )
    print(f"  billing mismatches  {mismatches:>12,}   (marts.fct_billing_mismatches)")
