"""The check catalog (dbt_project/seeds/check_catalog.csv) is the one list of reconciliation
findings: the Dagster checks come from it, and the table of checks in docs/checks.md must say
the same."""

import re
from pathlib import Path

from warehouse.findings import CATALOG, load_catalog

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "checks.md"


def test_the_guide_lists_every_check_with_its_findings_and_severity():
    import csv

    severities: dict[str, set[str]] = {}
    with CATALOG.open(newline="") as fh:
        for row in csv.DictReader(fh):
            severities.setdefault(row["dagster_check"], set()).add(row["severity"])
    rows = {
        m[1]: m[0]
        for m in re.finditer(r"^\| `(\w+)`[^|]*\|.*$", GUIDE.read_text(), flags=re.MULTILINE)
    }
    for check, (findings, _) in load_catalog().items():
        assert check in rows, f"docs/checks.md has no row for {check}"
        cells = [c.strip() for c in rows[check].split("|")]
        assert cells[2] == ("error" if "error" in severities[check] else "warning"), check
        for finding in findings:
            assert f"`{finding}`" in rows[check], (check, finding)


def test_every_check_says_what_it_verifies():
    catalog = load_catalog()
    assert len(catalog) == 12  # ..., groups_stay_under_a_thousand, then credits_are_accepted
    assert all(about.endswith(".") for _, about in catalog.values())
