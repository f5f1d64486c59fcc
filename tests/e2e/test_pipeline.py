"""generate -> run -> close through the CLI on a small world; the marts must tie to the inputs."""

import datetime as dt
import json
import os
import re
import textwrap
from dataclasses import dataclass
from decimal import Decimal
from unittest import mock

import duckdb
import polars as pl
import pytest
from worlds import Ran, World, tally

from cli.main import main
from demo.generate import GenerateConfig, GenerateSummary, generate
from lake.home import Home

pytestmark = pytest.mark.e2e

START = dt.date(2026, 9, 1)


def _build_sample(home: Home, config: GenerateConfig) -> dict:
    """Generate, run, close September, with a decoy home in TALLY_HOME and DAGSTER_HOME: the
    commands must use --home, and leave the process environment as they found it."""
    truth = generate(home, config)
    # A trial grant that expired before the month ended: it never pays anything, and every page
    # must show it expired with nothing remaining (the generator's grants outlive the run).
    with (home.landing_reference / "credit_grants.csv").open("a") as grants:
        grants.write("gr_cus_0001_trial,cus_0001,2026-09-01,500,promotional,0,2026-09-20,10\n")
    decoy = home.root.parent / "decoy" / "not-this-home"
    decoys = {"TALLY_HOME": str(decoy), "DAGSTER_HOME": str(decoy / ".dagster")}
    with mock.patch.dict(os.environ, decoys):
        before = dict(os.environ)
        run = tally(home, "run", "--from", "2026-09-01", "--to", "2026-10-05")
        close = tally(home, "close", "--month", "2026-09")
        left_alone = dict(os.environ) == before
    return {
        "truth": truth,
        "run": run,
        "close": close,
        "environment_left_alone": left_alone,
        "decoy_used": decoy.exists(),
    }


SAMPLE = World(
    "sample",
    _build_sample,
    GenerateConfig(customers=12, days=35, events_per_day=400, start=START, seed=3),
)


@dataclass(frozen=True)
class Sample:
    home: Home  # shared: read only (a test that writes takes `own`)
    truth: GenerateSummary  # what the generator wrote
    run: Ran
    close: Ran
    environment_left_alone: bool
    decoy_used: bool


@pytest.fixture(scope="module")
def world(worlds) -> Sample:
    built = worlds.get(SAMPLE)
    return Sample(built.home, **built.facts)


@pytest.fixture
def own(worlds, tmp_path) -> Home:
    """This test's own copy of the world's home, to write to."""
    return worlds.get(SAMPLE).copy(tmp_path).home


def test_the_first_build_takes_the_parse_made_while_the_exports_were_read(world):
    """A home's first dbt build would parse the whole project (its profile names the home):
    `tally` parses it in the background while the exports are read, and dbt takes that."""
    home = world.home
    log = (home.dagster_home / "dbt-target" / "dbt.log").read_text()
    # Each dbt invocation logs what it found ("Found 49 models, ...", code W006): the run's
    # build and the close's.
    assert log.count('"code": "W006"') >= 2
    assert "Unable to do partial parsing" not in log
    assert not (home.dagster_home / "dbt-parse-ahead").exists()


def q(home: Home, sql: str):
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_commands_succeed(world):
    assert (world.run.status, world.close.status) == (0, 0), (world.run, world.close)


def test_a_run_shows_each_step_as_it_starts_and_ends_and_counts_dbt(world):
    home = world.home
    lines = world.run.output.splitlines()
    assert lines[0] == f"run: 2026-09-01 .. 2026-10-05 (home {home.root})"
    stamped = [line for line in lines if re.match(r"  \[\d\d:\d\d\] ", line)]
    steps = [line[10:] for line in stamped]
    assert steps[:2] == [
        "loading the nightly_billing job (Dagster, the dbt project)",
        "run started",
    ]
    assert "ingest new usage exports ..." in steps
    assert any(re.fullmatch(r"ingest new usage exports: done in \d+\.\d s", s) for s in steps)
    [total] = {
        int(m[1]) for s in steps if (m := re.fullmatch(r"dbt: (\d+) models and tests \.\.\.", s))
    }
    assert total > 100  # every model and test of the nightly build
    assert f"dbt: {total} of {total} models and tests" in steps
    counts = [int(m[1]) for s in steps if (m := re.fullmatch(r"dbt: (\d+) of \d+ models.*", s))]
    assert counts == sorted(counts) and len(counts) >= 2
    # Piped output has no bar and no colour codes, and neither has dbt's log.
    assert "\r" not in world.run.output and "\x1b[" not in world.run.output
    for log in (home.dagster_home / "logs").glob("*.log"):
        assert "\x1b[" not in log.read_text(), log


def test_the_summary_says_what_this_command_did_apart_from_the_totals(world):
    run, close = world.run.output, world.close.output
    this_run = run[run.index("  this run") : run.index("  to date")]
    assert "new files" in this_run and "events accepted" in this_run
    this_close = close[close.index("  this run") : close.index("  to date")]
    assert "(nothing new landed)" in this_close
    assert re.search(r"invoices issued +\d+   USD [\d,]+\.\d\d", this_close)
    # Recognized revenue, bridged to what was invoiced, in one line per currency.
    bridge = re.search(
        r"revenue recognized +USD ([\d,.]+) .*\n +"
        r"= invoiced ([\d,.]+) \+ prepaid credits used ([\d,.]+) \+ expired credits ([\d,.]+)",
        close,
    )
    recognized, *parts = (Decimal(x.replace(",", "")) for x in bridge.groups())
    assert recognized == sum(parts) and parts[0] > 0


def test_the_home_given_is_the_only_home_used_and_the_environment_is_left_alone(world):
    """--home wins over TALLY_HOME and DAGSTER_HOME; settings reach Dagster and dbt as
    configuration, not by rewriting the process environment."""
    home = world.home
    assert world.environment_left_alone and not world.decoy_used
    assert (home.dagster_home / "dagster.yaml").exists()
    assert home.warehouse.exists()


def test_every_raw_row_is_accounted_for(world):
    home, truth = world.home, world.truth
    [(read, accepted, quarantined, dups)] = q(
        home,
        "select sum(rows_read), sum(rows_accepted), sum(rows_quarantined), sum(duplicates_dropped) "
        "from marts.fct_ingested_files",
    )
    assert read == truth.raw_rows
    assert accepted == truth.events  # exactly the distinct valid events the generator wrote
    assert quarantined == truth.faults
    assert dups == truth.duplicates
    assert read == accepted + quarantined + dups


def test_usage_mart_ties_to_accepted_events(world):
    home, truth = world.home, world.truth
    [(events,)] = q(home, "select sum(events) from marts.fct_usage_daily")
    assert events == truth.events


def test_invoices_agree_with_the_independent_reference_rating(world):
    """billed_invoices.csv was rated by transforms.rating; only its deliberate slips differ."""
    home = world.home
    billed = pl.read_csv(home.landing_reference / "billed_invoices.csv", infer_schema=False)
    computed = dict(
        ((c, p.isoformat()), s)
        for c, p, s in q(home, "select customer_id, period_start, subtotal from marts.fct_invoices")
    )
    differences = {
        Decimal(row["subtotal"]) - computed[(row["customer_id"], row["period_start"])]
        for row in billed.iter_rows(named=True)
    }
    assert differences <= {Decimal("0"), Decimal("1.50")}  # +1.50 is the generator's manual edit
    findings = q(home, "select distinct check_name from marts.fct_billing_mismatches")
    assert set(f[0] for f in findings) <= {"subtotal_differs", "invoice_missing_in_billing_system"}


def test_credits_agree_with_the_independent_reference(world):
    """billed_invoices.csv applied credits with transforms.credits on its own rating."""
    home = world.home
    billed = pl.read_csv(home.landing_reference / "billed_invoices.csv", infer_schema=False)
    issued = {
        (c, p.isoformat()): (s, a)
        for c, p, s, a in q(
            home,
            "select customer_id, period_start, subtotal, credits_applied from marts.fct_invoices "
            "where status = 'issued'",
        )
    }
    compared = 0
    for row in billed.iter_rows(named=True):
        subtotal, credits = issued[(row["customer_id"], row["period_start"])]
        if Decimal(row["subtotal"]) == subtotal:  # not one of the generator's manual edits
            assert Decimal(row["credits_applied"]) == credits, row
            compared += int(credits > 0)
    assert compared >= 2  # the world has customers paying with credits


def test_ledger_balances_never_go_negative_and_tie_to_invoices(world):
    home = world.home
    [(negative,)] = q(
        home,
        "select count(*) from marts.fct_credit_ledger "
        "where balance_after < 0 or customer_balance_after < 0",
    )
    assert negative == 0
    untied = q(
        home,
        "select i.invoice_id from marts.fct_invoices i left join ("
        "  select invoice_id, sum(money) as money from marts.fct_credit_ledger"
        "  where entry_type = 'consumption' group by 1) c using (invoice_id) "
        "where i.status = 'issued' and coalesce(c.money, 0) <> i.credits_applied",
    )
    assert untied == []


def test_invoice_lines_sum_to_subtotals(world):
    home = world.home
    rows = q(
        home,
        "select i.invoice_id from marts.fct_invoices i left join marts.fct_invoice_lines l using (invoice_id) "
        "group by i.invoice_id, i.subtotal having i.subtotal <> coalesce(sum(l.amount), 0)",
    )
    assert rows == []


def test_close_issues_the_month_and_leaves_later_months_draft(world):
    home = world.home
    status = dict(
        q(
            home,
            "select period_start, min(status) || '/' || max(status) from marts.fct_invoices group by 1",
        )
    )
    assert status == {
        dt.date(2026, 9, 1): "issued/issued",
        dt.date(2026, 10, 1): "draft/draft",
        # cus_0007's annual contract: its 2026 invoice stays open until the year ends
        dt.date(2026, 1, 1): "draft/draft",
    }
    exported = sorted(p.stem for p in home.exports.glob("*.json"))
    issued = sorted(
        r[0] for r in q(home, "select invoice_id from marts.fct_invoices where status = 'issued'")
    )
    assert exported == issued


def test_issued_invoices_never_change_on_later_runs(own):
    home = own
    issued_file = home.lake_issued / "invoices" / "period=2026-09.parquet"
    before = issued_file.read_bytes()
    exports_before = {p.name: p.read_bytes() for p in home.exports.glob("*.*")}
    notified = q(home, "select * from marts.fct_spend_notifications")
    notified_lines = home.notifications.read_text()
    # A late event for September arrives after close, then everything runs again.
    late = home.landing_usage / "late" / "late.csv"
    late.parent.mkdir(parents=True, exist_ok=True)
    late.write_text(
        "event_id,occurred_at,customer_id,metric,quantity,status,properties\n"
        "late_1,2026-09-15T12:00:00Z,cus_0001,api_calls,1,200,\n"
    )
    # Still inside the free calls: the late call changes no amount, so nothing is pending.
    assert (
        main(["run", "--home", str(home.root), "--from", "2026-09-01", "--to", "2026-10-05"]) == 0
    )
    assert main(["close", "--home", str(home.root), "--month", "2026-09"]) == 0
    assert q(home, "select * from marts.fct_invoice_adjustments") == []
    assert issued_file.read_bytes() == before
    assert {p.name: p.read_bytes() for p in home.exports.glob("*.*")} == exports_before
    # No notification is raised or written again: the same rows, the file only grows.
    assert notified and set(notified) <= set(q(home, "select * from marts.fct_spend_notifications"))
    assert home.notifications.read_text().startswith(notified_lines)
    [(n,)] = q(
        home,
        "select count(*) from marts.fct_usage_daily where usage_date = '2026-09-15' and customer_id = 'cus_0001'",
    )
    assert n >= 1


def test_bad_input_exits_2_with_one_line(world, capsys):
    home = world.home
    assert main(["close", "--home", str(home.root), "--month", "2099-01"]) == 2
    assert (
        main(["run", "--home", str(home.root), "--from", "2026-10-05", "--to", "2026-09-01"]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("tally: ") for line in err)


def test_summary_tells_a_billing_engineer_what_happened(world, capsys):
    from cli.summary import print_summary

    home, truth = world.home, world.truth
    print_summary(home)
    out = capsys.readouterr().out
    assert "conservation               holds" in out
    assert f"events accepted     {truth.events:>12,}" in out
    assert "invoices issued" in out and "revenue recognized          USD" in out


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (select 'e9,2026-09-02T00:00:00Z,c1,api_calls,1,200,') TO '{home}/landing/usage/x.csv'",
        "COPY marts.fct_invoices TO '{home}/lake/issued/invoices/period=2026-09.parquet'",
        "EXPORT DATABASE '{home}/../exported'",
        "select 1; copy (select 1) to '{home}/x.csv'",
        "select * from read_csv('/etc/passwd')",
        "attach '{home}/../other.duckdb'",
        "install httpfs",
        "pragma enable_profiling",
    ],
)
def test_query_writes_nothing_and_reads_only_the_home(world, capsys, sql):
    home = world.home
    before = sorted(p for p in home.root.parent.rglob("*") if p.is_file())
    status = main(["query", "--home", str(home.root), sql.format(home=home.root)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("tally: ")
    assert sorted(p for p in home.root.parent.rglob("*") if p.is_file()) == before


def test_query_reads_marts_and_the_lake_views(world, capsys):
    home = world.home
    status = main(
        [
            "query",
            "--home",
            str(home.root),
            "select count(*) as n from staging.stg_lake__usage_events",
        ]
    )
    assert status == 0
    assert "│ n" in capsys.readouterr().out


def test_every_mart_and_mart_column_is_described_with_its_type(world):
    """What analysts read in dbt docs (`make docs`): each mart and each of its columns, as
    built, has a description and a declared type; contracts hold the types on every table."""
    import json

    from warehouse.dbt import MANIFEST

    home = world.home
    nodes = json.loads(MANIFEST.read_text())["nodes"].values()
    declared = {
        n["name"]: n for n in nodes if n["resource_type"] == "model" and n["schema"] == "marts"
    }
    built = {}
    for table, column in q(
        home,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts'",
    ):
        built.setdefault(table, []).append(column)
    assert set(built) == set(declared)
    for mart, columns in built.items():
        node = declared[mart]
        assert node["description"].strip(), mart
        assert set(node["columns"]) == set(columns), mart
        for name, column in node["columns"].items():
            assert column["description"].strip() and column["data_type"], f"{mart}.{name}"
        incremental = node["config"]["materialized"] == "incremental"
        assert incremental or node["config"]["contract"]["enforced"], mart


def test_make_docs_builds_the_marts_reference_from_the_warehouse(own):
    from cli.docs import build, docs_folder

    home = own
    assert build(home) == 0
    site = docs_folder(home)
    assert (site / "index.html").exists()
    catalog = json.loads((site / "catalog.json").read_text())["nodes"]
    manifest = json.loads((site / "manifest.json").read_text())["nodes"]
    spend = "model.tally.mart_customer_spend"
    assert catalog[spend]["columns"]["spend_to_date"]["type"] == "DECIMAL(38,4)"
    assert manifest[spend]["columns"]["spend_to_date"]["description"].startswith("The period's")


# Visibility (issue 17): spend notifications, reports and invoice documents of the world.


def _money(amount: Decimal, currency: str) -> str:
    """How the pages show money, written out here independently: the world bills USD and EUR."""
    assert currency in ("USD", "EUR")
    return f"{amount:,.2f} {currency}"


def test_spend_notifications_follow_the_budgets_once_each(world):
    home = world.home
    budgets = pl.read_csv(home.landing_reference / "budgets.csv", infer_schema=False)
    rule = {
        r["customer_id"]: (
            Decimal(r["monthly_budget"]),
            [int(t) for t in (r["thresholds"] or "50;80;100").split(";")],
        )
        for r in budgets.iter_rows(named=True)
    }
    open_spend = q(
        home,
        "select s.customer_id, s.spend_to_date, s.projected_spend, s.credits_remaining, "
        "s.credits_remaining_value from marts.mart_customer_spend as s "
        "join marts.fct_invoices as i on s.customer_id = i.customer_id "
        "and s.period_start = i.period_start where i.status = 'draft'",
    )
    expected = set()
    for customer, spend, projected, credits, credit_value in open_spend:
        if customer in rule:
            budget, thresholds = rule[customer]
            expected |= {
                (customer, "spend_threshold", t, spend)
                for t in thresholds
                if spend * 100 >= budget * t
            }
            if projected > budget:
                expected.add((customer, "projected_over_budget", None, projected))
        if credits > 0 and credit_value < projected:
            expected.add((customer, "credits_running_out", None, projected - credit_value))
    raised = q(
        home,
        "select customer_id, kind, threshold_pct, amount, notification_id, sent_at "
        "from marts.fct_spend_notifications",
    )
    budget_kinds = {r[:4] for r in raised if r[1] != "credits_running_out"}
    assert budget_kinds == {e for e in expected if e[1] != "credits_running_out"}
    assert "spend_threshold" in {k for _, k, _, _ in budget_kinds}
    # Credits: raised by the first run, while the customer still held some; September's close
    # then drew them, so today's rule may no longer flag them, but all it flags were raised.
    short = {r[0] for r in raised if r[1] == "credits_running_out"}
    assert {e[0] for e in expected if e[1] == "credits_running_out"} <= short
    granted = set(pl.read_csv(home.landing_reference / "credit_grants.csv")["customer_id"])
    assert short and short <= granted
    written = [json.loads(line) for line in home.notifications.read_text().splitlines()]
    assert sorted(n["notification_id"] for n in written) == sorted(r[4] for r in raised)
    assert all(n["text"].startswith(n["customer_id"] + ": ") for n in written)


def test_the_finance_report_shows_the_marts_figures(world):
    home = world.home
    page = (home.reports / "index.html").read_text()
    revenue = q(
        home,
        "select strftime(month, '%Y-%m'), currency, sum(billed_revenue), sum(recognized_revenue), "
        "sum(deferred_closing) from marts.fct_revenue_monthly group by 1, 2",
    )
    assert revenue
    for month, currency, billed, recognized, deferred in revenue:
        row = re.search(
            rf"<tr><td>{month}</td><td>{currency}</td>(.*?)</tr>", page, flags=re.S
        ).group(1)
        assert _money(billed, currency) in row and _money(recognized, currency) in row
        assert _money(deferred, currency) in page
    issued = q(
        home,
        "select currency, sum(total) from marts.fct_invoices where status = 'issued' group by 1",
    )
    for currency, total in issued:
        assert _money(total, currency) in page
    findings = q(home, "select check_name, count(*) from marts.fct_billing_mismatches group by 1")
    for check, n in findings:
        assert re.search(rf"<td>{check}</td><td>\w+</td><td class=\"num\">{n}</td>", page)
    leaders = q(
        home,
        "select currency, customer_id, spend_to_date from marts.mart_customer_spend "
        "qualify row_number() over (partition by currency "
        "order by spend_to_date desc, customer_id) = 1 order by 1",
    )
    top = page[page.index('id="top"') :].split("</table>")[0].split("</tr>")[1:]
    firsts = [row for row in top if "<td>" in row]
    assert len(leaders) == 2  # the top customers of each currency, never ranked together
    for currency, leader, spend in leaders:
        first = next(row for row in firsts if currency in row)
        assert leader in first and _money(spend, currency) in first


def test_each_customer_page_shows_its_spend_invoices_and_documents(world):
    home = world.home
    spend = q(
        home,
        "select customer_id, spend_to_date, projected_spend, currency from marts.mart_customer_spend",
    )
    assert len(list((home.reports / "customers").glob("*.html"))) == len(spend) == 12
    for customer, to_date, projected, currency in spend:
        page = (home.reports / "customers" / f"{customer}.html").read_text()
        assert f'id="spend-to-date">{_money(to_date, currency)}<' in page
        assert f'id="projected-spend">{_money(projected, currency)}<' in page
        data = json.loads((home.reports / "customers" / f"{customer}.json").read_text())
        assert Decimal(data["spend"]["spend_to_date"]) == to_date
    for invoice_id, customer, total, currency, status in q(
        home, "select invoice_id, customer_id, total, currency, status from marts.fct_invoices"
    ):
        page = (home.reports / "customers" / f"{customer}.html").read_text()
        assert _money(total, currency) in page
        if status == "issued":  # linked to its document, which exists
            link = f"../../exports/{invoice_id}.html"
            assert f'href="{link}"' in page
            assert (home.reports / "customers" / link).resolve().exists()


def test_each_customer_page_shows_every_day_of_its_usage_as_the_marts_have_it(world):
    """Every day from the previous period's start to as_of, for every metric the customer's
    plan prices or it used: a day without events is a 0, and a column has one precision."""
    home = world.home
    [(as_of,)] = q(home, "select max(as_of) from marts.mart_customer_spend")
    first = (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    days = [str(first + dt.timedelta(days=n)) for n in range((as_of - first).days + 1)]
    shown_cells = zero_days = 0
    for (customer,) in q(home, "select customer_id from marts.mart_customer_spend"):
        page = (home.reports / "customers" / f"{customer}.html").read_text()
        data = json.loads((home.reports / "customers" / f"{customer}.json").read_text())
        metrics = [m["metric"] for m in data["metrics"]]
        plan = {
            m
            for (m,) in q(
                home,
                "select distinct c.metric from staging.stg_reference__subscriptions as s "
                "join staging.stg_pricing__charges as c on s.plan_id = c.plan_id "
                f"where s.customer_id = '{customer}'",
            )
        }
        marts = {
            (str(day), metric): quantity
            for day, metric, quantity in q(
                home,
                "select usage_date, metric, sum(quantity) from marts.fct_usage_daily "
                f"where customer_id = '{customer}' and usage_date >= '{first}' group by all",
            )
        }
        assert set(metrics) == plan | {metric for _, metric in marts}
        table = page[page.index('<table id="usage">') :].split("</table>")[0]
        headings = re.findall(r'<th class="num">([^<]+)</th>', table)
        assert headings == [m["heading"] for m in data["metrics"]]
        rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>(.*?)</tr>", table)
        assert [day for day, _ in rows] == days
        columns: dict[str, set[int]] = {m: set() for m in metrics}
        for day, cells in rows:
            values = re.findall(r'<td class="num">([^<]*)</td>', cells)
            assert len(values) == len(metrics)
            for metric, value in zip(metrics, values, strict=True):
                assert Decimal(value.replace(",", "")) == marts.get((day, metric), 0)
                columns[metric].add(len(value.partition(".")[2]))
                zero_days += (day, metric) not in marts
        assert all(len(decimals) == 1 for decimals in columns.values()), columns
        shown_cells += len(marts)
        assert {(u["usage_date"], u["metric"]): Decimal(u["quantity"]) for u in data["usage"]} == {
            (d, m): marts.get((d, m), 0) for d in days for m in metrics
        }
    assert shown_cells > 100 and zero_days > 0


def test_a_grant_past_its_expiry_shows_expired_with_nothing_remaining(world):
    home = world.home
    [(as_of,)] = q(home, "select max(as_of) from marts.mart_customer_spend")
    expired = q(
        home,
        "select g.customer_id, g.grant_id, g.credits + coalesce(sum(l.credits), 0) "
        "from staging.stg_reference__credit_grants as g left join marts.fct_credit_ledger as l "
        "on g.grant_id = l.grant_id and l.entry_type = 'consumption' "
        f"where g.expires_at <= '{as_of}' group by g.customer_id, g.grant_id, g.credits",
    )
    assert expired  # the world has grants that expired before its last usage day
    for customer, grant, lost in expired:
        page = (home.reports / "customers" / f"{customer}.html").read_text()
        row = re.search(rf"<tr class=\"grant expired\"><td>{grant}</td>.*?</tr>", page, re.S)
        assert row, grant
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(0))
        assert cells[4:] == ["expired", cells[5], "0", f"{lost:,f}".rstrip("0").rstrip(".")]
        data = json.loads((home.reports / "customers" / f"{customer}.json").read_text())
        [shown] = [g for g in data["grants"] if g["grant_id"] == grant]
        assert (shown["state"], shown["remaining"]) == ("expired", "0")
        assert Decimal(shown["expired_credits"]) == lost


def test_credits_remaining_counts_only_credits_that_can_pay_the_open_period(world):
    """A grant that expires before the open period ends cannot pay it (the rule close applies);
    a recurring grant's or a plan's allocation's instances are grants of their own."""
    home = world.home
    spend = q(
        home,
        "select s.customer_id, s.period_start, s.as_of, s.credits_remaining "
        "from marts.mart_customer_spend as s",
    )
    counted = 0
    for customer, period_start, as_of, remaining in spend:
        period_end = (period_start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        [(expected,)] = q(
            home,
            "select coalesce(sum(g.credits + g.rolled_in - g.settled_out + coalesce(u.used, 0)), 0) "
            "from intermediate.int_credit_grants as g left join ("
            "  select grant_id, sum(credits) as used from marts.fct_credit_ledger "
            "  where entry_type = 'consumption' group by 1) as u on g.grant_id = u.grant_id "
            f"where g.customer_id = '{customer}' and g.granted_at <= '{as_of}' "
            f"and (g.expires_at is null or g.expires_at >= '{period_end}')",
        )
        assert remaining == expected, customer
        counted += expected > 0
        page = (home.reports / "customers" / f"{customer}.html").read_text()
        shown = f"{remaining:,f}".rstrip("0").rstrip(".")
        assert f'id="credits-remaining">{shown}<' in page
    assert counted >= 1


def test_feeds_write_money_in_minor_units_and_never_an_exponent_or_minus_zero(world):
    home = world.home
    feeds = [home.reports / "index.json", *sorted((home.reports / "customers").glob("*.json"))]
    money = [
        "spend_to_date",
        "projected_spend",
        "credits_remaining_value",
        "subtotal",
        "credits_applied",
        "total",
        "billed",
        "credit",
        "breakage",
        "recognized",
        "deferred_opening",
        "purchases",
        "deferred_closing",
        "tally_total",
        "billed_total",
        "difference",
        "amount",
    ]
    seen = 0

    def walk(value, key=None):
        nonlocal seen
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and re.fullmatch(r"-?[\d.]+(E[-+]?\d+)?", value):
            assert "E" not in value and value not in ("-0", "-0.00"), (key, value)
            if key in money:
                assert re.fullmatch(r"-?\d+\.\d\d", value), (key, value)  # USD and EUR
                seen += 1

    for feed in feeds:
        text = feed.read_text()
        assert "E-" not in text and "E+" not in text
        walk(json.loads(text))
    assert seen > 100


def test_the_finance_page_compares_open_months_as_drafts(world):
    home = world.home
    page = (home.reports / "index.html").read_text()
    feed = json.loads((home.reports / "index.json").read_text())
    drafts = q(
        home,
        "select strftime(period_start, '%Y-%m'), currency, sum(total) from marts.fct_invoices "
        "where status = 'draft' group by 1, 2",
    )
    assert drafts
    for month, currency, total in drafts:
        row = re.search(
            rf"<tr><td>{month}</td><td>{currency}</td><td class=\"status\">draft</td>(.*?)</tr>",
            page,
            flags=re.S,
        )
        assert row and _money(total, currency) in row.group(1), month
    # The same differences as the reconciliation's: per period, the sum of the invoices'.
    for r in feed["issued_vs_billed"]:
        assert Decimal(r["difference"]) == Decimal(r["tally_total"]) - Decimal(r["billed_total"])
    currencies = {r["currency"] for r in feed["issued_vs_billed"]}
    assert len(currencies) == 2  # USD and EUR: one panel each
    for ccy in currencies:
        assert f'id="plot-versus-{ccy}"' in page


def test_pages_open_from_disk_and_draw_their_plots_without_network(world, tmp_path):
    from browser import dom, screenshot
    from PIL import Image

    home = world.home
    pages = [home.reports / "index.html", home.reports / "customers" / "cus_0001.html"]
    for page in pages:
        html = page.read_text()
        # Everything a page loads is a file beside it: no scheme, no host.
        for ref in re.findall(r'(?:src|href)="([^"#]+)"', html):
            assert "://" not in ref and (page.parent / ref).resolve().exists(), ref
        shown = dom(page)
        plots = re.findall(r'<div class="plot[^"]*" id="(plot-[^"]+)"', html)
        assert len(plots) >= (4 if page.name == "index.html" else 2)
        drawn = [
            re.search(r'id="(plot-[^"]+)"', div).group(1)
            for div in re.findall(r"<div [^>]*>", shown)
            if "js-plotly-plot" in div
        ]
        assert sorted(drawn) == sorted(plots)
        assert shown.count('class="main-svg"') >= len(plots)
        image = Image.open(screenshot(page, tmp_path / f"{page.stem}.png")).convert("RGB")
        colours = image.getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 50  # text, plots and tables, not a blank page
        assert image.getbbox() is not None


def test_a_customer_page_in_the_browser_shows_days_without_usage_and_the_expired_grant(world):
    """As Chromium shows it: every day a row (a day without events reads 0), usage drawn as
    bars (no line across missing days), the trial grant expired with nothing remaining."""
    from browser import dom

    home = world.home
    [(as_of,)] = q(home, "select max(as_of) from marts.mart_customer_spend")
    shown = dom(home.reports / "customers" / "cus_0001.html")
    table = shown[shown.index('<table id="usage">') :].split("</table>")[0]
    days = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>", table)
    assert days[0] == "2026-09-01" and days[-1] == str(as_of)
    assert len(days) == (as_of - dt.date(2026, 9, 1)).days + 1
    assert '<td class="num">0</td>' in table
    usage_plot = shown[shown.index('id="plot-usage"') : shown.index('<table id="usage">')]
    assert 'class="trace bars"' in usage_plot and "js-line" not in usage_plot
    grant = re.search(r'<tr class="grant expired"><td>gr_cus_0001_trial</td>.*?</tr>', shown, re.S)
    assert grant
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", grant.group(0))
    assert cells[4:] == ["expired", "500", "0", "500"]


def test_an_invoice_document_prints_on_one_page(world, tmp_path):
    from browser import pdf

    home = world.home
    [(invoice_id, total, currency)] = q(
        home,
        "select invoice_id, total, currency from marts.fct_invoices where status = 'issued' "
        "order by invoice_number limit 1",
    )
    document = home.exports / f"{invoice_id}.html"
    assert _money(total, currency) in document.read_text()
    printed = pdf(document, tmp_path / "invoice.pdf")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", printed)) == 1


def test_the_price_change_steps_of_the_docs_run_as_written_twice(own, tmp_path):
    """docs/backfills.md, steps 1-4, run by bash from a folder where `data` is a home and
    `.venv` the project's; `/tmp/` is this test's own folder. The second time gives the same."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    guide = (repo / "docs" / "backfills.md").read_text()
    blocks = [textwrap.dedent(b) for b in re.findall(r"```sh\n(.*?)```", guide, flags=re.S)]
    assert len(blocks) == 4
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    script = "set -euo pipefail\n" + "\n".join(blocks).replace("/tmp/", f"{scratch}/")
    (tmp_path / "data").symlink_to(own.root)
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert done.returncode in (0, 3), done.stdout[-2000:] + done.stderr[-2000:]
        outputs.append((scratch / "sim.csv").read_text())
    assert outputs[0] == outputs[1] and "cus_0001" in outputs[0]
    assert not any(p.is_dir() for p in (scratch / "candidate").iterdir())
    assert (own.pricing / "2026-09-correction.yaml").exists()
    versions = q(
        own, "select plan_version from staging.stg_pricing__plans where plan_id = 'starter'"
    )
    assert sorted(versions) == [(1,), (2,)]  # the backfill rated with the new version
    shutil.rmtree(scratch)
