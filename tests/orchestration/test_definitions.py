"""The Dagster code location loads with the assets, jobs, schedules and sensor users expect."""

import dagster as dg


def test_definitions_load_with_every_stage():
    from orchestration.definitions import defs as load

    repo = load().get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {
        "usage_events",
        "customers",
        "plans",
        "issued_invoices",
        "fct_invoices",
        "fct_usage_daily",
        "fct_credit_ledger",
        "fct_revenue_monthly",
        "mart_customer_spend",
        "fct_billing_mismatches",
        "fct_ingested_files",
        "fct_quarantined_events",
        "fct_invoice_adjustments",
        "fct_spend_notifications",
        "spend_notifications",
        "reports",
    } <= keys
    assert {j.name for j in repo.get_all_jobs()} >= {
        "nightly_billing",
        "month_close",
        "notify_customers",
        "live_spend",
    }
    assert {s.name for s in repo.schedule_defs} == {
        "nightly_billing_schedule",
        "month_close_schedule",
    }
    assert {s.name for s in repo.sensor_defs} == {
        "new_landing_files",
        "live_spend",
        "alert_on_failed_checks",
        "alert_on_failed_runs",
        "undelivered_notifications",
    }
    checks = {k.name for k in repo.asset_graph.asset_check_keys}
    assert {
        "usage_events_expectations",
        "invoices_expectations",
        "rows_conserved",
        "usage_matches_invoices",
        "usage_has_a_subscription",
        "levels_stay_above_zero",
        "no_pending_adjustments",
        "lines_sum_to_subtotal",
        "total_is_subtotal_minus_credits",
        "credits_match_ledger",
        "deferred_revenue_rolls_forward",
        "credits_are_accepted",
        "agrees_with_billing_system",
    } <= checks


def test_dbt_models_are_grouped_by_layer_and_described_without_raw_sql():
    from orchestration.definitions import defs as load

    graph = load().get_repository_def().asset_graph
    group = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert group["stg_lake__usage_events"] == "staging"
    assert group["int_usage_daily"] == "intermediate"
    assert group["fct_invoices"] == group["mart_customer_spend"] == "marts"
    assert group["fct_billing_mismatches"] == "marts"
    assert group["rec_invoices"] == "reconciliation"
    assert "default" not in set(group.values())
    fct_invoices = graph.get(dg.AssetKey("fct_invoices")).description
    assert fct_invoices.startswith("One invoice per customer and billing period")
    for key in graph.get_all_asset_keys():
        assert "Raw SQL" not in (graph.get(key).description or ""), key
    # An asset page lists the mart's columns with their types and descriptions.
    spend = graph.get(dg.AssetKey("mart_customer_spend")).metadata["dagster/column_schema"]
    columns = {c.name: c.type for c in spend.columns if c.description}
    assert columns["spend_to_date"] == "decimal(38, 4)" and columns["as_of"] == "date"
    assert columns["as_of_at"] == "timestamp with time zone"
    assert len(columns) == 12  # every column of the mart, each described


def test_nightly_at_two_utc_and_month_close_on_the_third():
    from orchestration.definitions import defs as load

    crons = {s.name: s.cron_schedule for s in load().get_repository_def().schedule_defs}
    assert crons == {"nightly_billing_schedule": "0 2 * * *", "month_close_schedule": "0 6 3 * *"}


def test_month_close_depends_on_computed_invoices_and_feeds_the_marts():
    from orchestration.definitions import defs as load

    graph = load().get_repository_def().asset_graph
    issued = graph.get(dg.AssetKey("issued_invoices"))
    assert dg.AssetKey("int_invoices_computed") in issued.parent_keys
    assert dg.AssetKey("stg_issued__invoices") in issued.child_keys


def test_nightly_runs_dbt_once_and_month_close_only_what_reads_the_issued_store():
    from orchestration.definitions import defs as load

    repo = load().get_repository_def()
    nightly = repo.get_job("nightly_billing")
    close = repo.get_job("month_close")
    assert [n.name for n in nightly.graph.nodes].count("tally_dbt_models") == 1
    assert "issue_invoices" not in [n.name for n in nightly.graph.nodes]
    close_keys = {k.to_user_string() for k in close.asset_layer.selected_asset_keys}
    assert {"issued_invoices", "fct_invoices", "stg_issued__invoices"} <= close_keys
    assert "fct_usage_daily" not in close_keys


def test_the_ui_loads_with_the_venv_not_on_the_path_as_dagster_dev_loads_it(tmp_path):
    """`dagster dev` sets DAGSTER_IS_DEV_CLI, and the code location parses the dbt project
    first. A copy of the code, so that parse leaves the repository's manifest alone."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    copy = tmp_path / "tally"
    skip = shutil.ignore_patterns("__pycache__", "target", "logs", "dbt-target*")
    packages = (
        "cli",
        "orchestration",
        "warehouse",
        "transforms",
        "lake",
        "demo",
        "expectations",
        "publish",
        "dbt_project",
    )
    for package in packages:
        shutil.copytree(root / package, copy / package, ignore=skip)
    shutil.copy(root / "workspace.yaml", copy)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": "/usr/bin:/bin",  # no venv
        "HOME": str(tmp_path),
        "DAGSTER_IS_DEV_CLI": "1",
        "TALLY_HOME": str(home),
        "DAGSTER_HOME": str(home),
        "DO_NOT_TRACK": "1",
    }
    dagster = Path(sys.executable).parent / "dagster"
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout
    # The location loaded the copy, and parsed it with the venv's dbt.
    assert (copy / "dbt_project" / "target" / "manifest.json").exists()


def test_the_full_audit_runs_at_month_close_before_issuing_and_never_nightly():
    from orchestration.definitions import defs as load

    repo = load().get_repository_def()
    nightly = repo.get_job("nightly_billing").asset_layer.selected_asset_keys
    close = repo.get_job("month_close").asset_layer.selected_asset_keys
    audit = dg.AssetKey("audit_lake")
    assert audit not in nightly
    assert audit in close
    assert audit in repo.asset_graph.get(dg.AssetKey("issued_invoices")).parent_keys


def test_partitions_start_where_the_homes_data_starts_or_where_configured(tmp_path, monkeypatch):
    import datetime as dt

    import pytest

    from lake.home import Home
    from orchestration.definitions import defs as load
    from orchestration.defs.partitions import FirstDayError, first_month

    home = Home.at(tmp_path)
    today = dt.date(2026, 11, 28)
    # No usage yet: last month, so the nightly's "yesterday" is always a partition.
    assert first_month(home, today=today) == dt.date(2026, 10, 1)
    for day in ("2026-09-14", "2026-08-03", "2026-10-01"):
        (home.lake_events / f"event_date={day}").mkdir(parents=True)
    assert first_month(home, today=today) == dt.date(2026, 8, 1)
    assert first_month(home, "2025-03-15", today=today) == dt.date(2025, 3, 1)
    with pytest.raises(FirstDayError, match="TALLY_FIRST_DAY='March' is not a date YYYY-MM-DD"):
        first_month(home, "March", today=today)

    # The UI's code location: "N partitions" counts from the data's first month.
    monkeypatch.setenv("TALLY_HOME", str(tmp_path))
    monkeypatch.delenv("TALLY_FIRST_DAY", raising=False)
    nightly = load().resolve_job_def("nightly_billing")
    assert nightly.partitions_def.get_first_partition_key() == "2026-08-01"
    monkeypatch.setenv("TALLY_FIRST_DAY", "2026-09-20")
    close = load().resolve_job_def("month_close")
    assert close.partitions_def.get_first_partition_key() == "2026-09-01"


def test_descriptions_show_as_written_in_the_ui():
    """The UI renders descriptions as Markdown, which drops anything that looks like an HTML
    tag (`INV-<period>-<customer>` read "INV--"): such text is written as code."""
    import json
    import re

    from warehouse.dbt import MANIFEST

    nodes = json.loads(MANIFEST.read_text())["nodes"].values()
    texts = [n["description"] for n in nodes] + [
        c["description"] for n in nodes for c in n.get("columns", {}).values()
    ]
    outside_code = [re.sub(r"`[^`]*`", "", t) for t in texts]
    assert [t for t in outside_code if re.search(r"<[A-Za-z][^>]*>", t)] == []
    assert any("`INV-<period>-<customer>`" in t for t in texts)


def test_no_two_assets_share_a_name():
    from orchestration.definitions import defs as load

    keys = load().resolve_asset_graph().get_all_asset_keys()
    names = [key.path[-1] for key in keys]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_the_live_spend_sensor_asks_for_a_micro_batch_once_a_file_settles(tmp_path):
    import os
    import time

    import dagster as dg

    from lake.home import Home
    from orchestration.defs.sensors import live_spend_sensor
    from orchestration.settings import TallySettings

    home = Home.at(tmp_path)
    home.landing_usage.mkdir(parents=True)
    settings = TallySettings(home=str(tmp_path))

    def tick():
        return live_spend_sensor(dg.build_sensor_context(resources={"settings": settings}))

    assert isinstance(tick(), dg.SkipReason)
    export = home.landing_usage / "export.csv"
    export.write_text("event_id,occurred_at,customer_id,metric,quantity,status,properties\n")
    assert isinstance(tick(), dg.SkipReason)  # just written: it may still be being written
    settled = time.time() - 60
    os.utime(export, (settled, settled))
    first = tick()
    assert isinstance(first, dg.RunRequest) and first.job_name in (None, "live_spend")
    assert tick().run_key == first.run_key  # the same files ask for the same micro-batch
