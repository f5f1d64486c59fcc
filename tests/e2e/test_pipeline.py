"""generate -> run -> close through the CLI on a small world; the marts must tie to the inputs."""

import datetime as dt
import json
import os
import re
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
    assert status == {dt.date(2026, 9, 1): "issued/issued", dt.date(2026, 10, 1): "draft/draft"}
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
    [(leader, spend, currency)] = q(
        home,
        "select customer_id, spend_to_date, currency from marts.mart_customer_spend "
        "order by spend_to_date desc, customer_id limit 1",
    )
    top = page[page.index('id="top"') :]
    assert leader in top.split("</tr>")[1] and _money(spend, currency) in top.split("</tr>")[1]


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


def test_each_customer_page_shows_its_daily_usage_as_the_marts_have_it(world):
    home = world.home
    shown_cells = 0
    for (customer,) in q(home, "select customer_id from marts.mart_customer_spend"):
        page = (home.reports / "customers" / f"{customer}.html").read_text()
        if '<table id="usage">' not in page:
            assert "No usage recorded." in page
            continue
        table = page[page.index('<table id="usage">') :].split("</table>")[0]
        metrics = re.findall(r'<th class="num">([^<]+)</th>', table)
        rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>(.*?)</tr>", table)
        assert metrics and rows
        first = min(day for day, _ in rows)
        marts = {
            (str(day), metric): quantity
            for day, metric, quantity in q(
                home,
                "select usage_date, metric, sum(quantity) from marts.fct_usage_daily "
                f"where customer_id = '{customer}' and usage_date >= '{first}' group by all",
            )
        }
        shown = {}
        for day, cells in rows:
            values = re.findall(r'<td class="num">([^<]*)</td>', cells)
            assert len(values) == len(metrics)
            for metric, value in zip(metrics, values, strict=True):
                if value:
                    shown[(day, metric)] = Decimal(value.replace(",", ""))
        assert shown == marts
        shown_cells += len(shown)
        data = json.loads((home.reports / "customers" / f"{customer}.json").read_text())
        assert {
            (u["usage_date"], u["metric"]): Decimal(u["quantity"]) for u in data["usage"]
        } == marts
    assert shown_cells > 100


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
