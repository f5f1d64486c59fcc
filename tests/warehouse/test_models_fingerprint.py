"""The fingerprint a run with nothing new compares: it follows the dbt project's sources, not
only the manifest `make install` builds from them."""

import pytest

from warehouse import dbt as paths


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "dbt_project"
    for name, text in {
        "dbt_project.yml": "name: tally\n",
        "models/marts/fct_invoices.sql": "select 1 as invoice_id\n",
        "seeds/currencies.csv": "currency\nUSD\n",
        "target/manifest.json": '{"nodes": {}}',
        "target/compiled/fct_invoices.sql": "select 1\n",
        "logs/dbt.log": "started\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    monkeypatch.setattr(paths, "DBT_PROJECT_DIR", root)
    monkeypatch.setattr(paths, "MANIFEST", root / "target" / "manifest.json")
    return root


def test_a_model_changed_without_a_new_manifest_changes_the_fingerprint(project):
    before = paths.models_fingerprint()

    (project / "models/marts/fct_invoices.sql").write_text("select 2 as invoice_id\n")

    assert paths.models_fingerprint() != before


@pytest.mark.parametrize("source", ["seeds/currencies.csv", "dbt_project.yml", "macros/new.sql"])
def test_any_source_of_the_project_counts(project, source):
    before = paths.models_fingerprint()

    (project / source).parent.mkdir(parents=True, exist_ok=True)
    (project / source).write_text("changed\n")

    assert paths.models_fingerprint() != before


def test_what_dbt_writes_into_the_project_does_not_count(project):
    before = paths.models_fingerprint()

    (project / "target/compiled/fct_invoices.sql").write_text("select 3\n")
    (project / "target/run_results.json").write_text("{}")
    (project / "logs/dbt.log").write_text("started again\n")
    (project / ".user.yml").write_text("id: 1\n")

    assert paths.models_fingerprint() == before


def test_a_new_manifest_changes_the_fingerprint(project):
    before = paths.models_fingerprint()

    (project / "target/manifest.json").write_text('{"nodes": {"model.tally.x": {}}}')

    assert paths.models_fingerprint() != before
