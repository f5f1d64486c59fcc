"""Reference files: numbers are read exactly and must fit the warehouse's types."""

import datetime as dt
from decimal import Decimal

import polars as pl
import pytest

from lake.reference import read_reference
from transforms.reference import ReferenceDataError

# A price book's plans table with no plan: reference files that need none are checked alone.
NO_PLANS = pl.DataFrame(
    schema={
        "plan_id": pl.String,
        "plan_version": pl.Int32,
        "currency": pl.String,
        "source_file": pl.String,
    }
)
GRANTS = "grant_id,customer_id,granted_at,credits,kind,purchase_amount,expires_at,priority\n"


def grants(tmp_path, credits: str, amount: str):
    path = tmp_path / "credit_grants.csv"
    path.write_text(GRANTS + f"g1,c1,2026-09-01,{credits},purchased,{amount},,\n")
    return read_reference(path, "credit_grants")


def test_exponent_notation_is_read_exactly(tmp_path):
    row = grants(tmp_path, "1.5e3", "2.5E2").row(0, named=True)
    assert (row["credits"], row["purchase_amount"]) == (Decimal("1500"), Decimal("250"))


@pytest.mark.parametrize(
    ("credits", "amount", "message"),
    [
        ("1000.0000000001", "10", "credits: '1000.0000000001' is not a valid quantity"),
        ("1e20", "10", "credits: '1e20' is not a valid quantity"),
        (
            "100",
            "10.00001",
            "purchase_amount: '10.00001' is not a valid amount (at most 4 decimals",
        ),
        ("100", "1e300", "purchase_amount: '1e300' is not a valid amount"),
    ],
)
def test_a_number_that_would_be_rounded_or_overflow_is_refused_with_row_and_column(
    tmp_path, credits, amount, message
):
    with pytest.raises(ReferenceDataError) as exc:
        grants(tmp_path, credits, amount)
    assert str(exc.value).startswith("credit_grants.csv: row 2: ")
    assert message in str(exc.value)


def test_a_column_the_contract_does_not_name_is_refused_naming_file_and_column(tmp_path):
    path = tmp_path / "credit_grants.csv"
    path.write_text(
        GRANTS.strip() + ",expires_on\n" + "g1,c1,2026-09-01,100,purchased,10,,,2026-12-31\n"
    )
    with pytest.raises(ReferenceDataError) as exc:
        read_reference(path, "credit_grants")
    assert str(exc.value) == (
        "credit_grants.csv: column 'expires_on' is not one tally reads (the columns are: "
        "grant_id, customer_id, granted_at, credits, kind, purchase_amount, expires_at, priority, "
        "applies_to, recurrence, recurrence_ends_at, rollover_cap)"
    )


CUSTOMERS = "customer_id,name,currency\n"


@pytest.mark.parametrize(
    ("customer_id", "shown"),
    [
        (".", "'.'"),
        ("..", "'..'"),
        (" .. ", "'..'"),
        ('"a\tb"', "'a\\tb'"),
        ("a\x7fb", "'a\\x7fb'"),
    ],
    ids=["dot", "dot-dot", "dot-dot-spaced", "tab", "delete"],
)
def test_an_id_that_cannot_name_a_file_is_refused_naming_file_row_and_column(
    tmp_path, customer_id, shown
):
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS + "ok/with slash,Fine,USD\n" + f"{customer_id},Bad,USD\n")
    with pytest.raises(ReferenceDataError) as exc:
        read_reference(path, "customers")
    assert str(exc.value) == (
        f"customers.csv: row 3: customer_id: {shown} cannot be an id: ids name files and "
        "links, so an id is not '.' or '..' and holds no control characters"
    )


def test_ids_with_any_other_characters_are_read_as_written(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS + "a/b%20c,One,USD\n...,Two,USD\nkunde-ü,Three,EUR\n")
    assert read_reference(path, "customers")["customer_id"].to_list() == [
        "a/b%20c",
        "...",
        "kunde-ü",
    ]


def _customers_with_tax(tmp_path, rate: str):
    from lake.reference import load_reference

    (tmp_path / "customers.csv").write_text(
        "customer_id,name,currency,tax_rate\nc1,One,USD,0.20\nc2,Two,USD,\n"
        + f"c3,Three,USD,{rate}\n"
    )
    (tmp_path / "subscriptions.csv").write_text("subscription_id,customer_id,plan_id,started_at\n")
    return load_reference(tmp_path, NO_PLANS)


def test_a_customers_tax_rate_is_read_exactly_and_empty_means_none(tmp_path):
    customers = _customers_with_tax(tmp_path, "0.068254")["customers"]
    assert customers["tax_rate"].to_list() == [Decimal("0.20"), None, Decimal("0.068254")]


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        (
            "1",
            "customers.csv: row 4: tax_rate: 1 is not from 0 up to, not including, 1",
        ),
        (
            "-0.1",
            "customers.csv: row 4: tax_rate: -0.1 is not from 0 up to, not including, 1",
        ),
        ("20%", "customers.csv: row 4: tax_rate: '20%' is not a valid price"),
    ],
)
def test_a_tax_rate_outside_zero_to_one_is_refused_naming_file_row_and_column(
    tmp_path, rate, message
):
    with pytest.raises(ReferenceDataError) as exc:
        _customers_with_tax(tmp_path, rate)
    assert str(exc.value).startswith(message)


def _grants_applying_to(tmp_path, applies_to: str):
    from lake.reference import load_reference

    (tmp_path / "customers.csv").write_text("customer_id,name,currency\nc1,One,USD\n")
    (tmp_path / "subscriptions.csv").write_text("subscription_id,customer_id,plan_id,started_at\n")
    (tmp_path / "credit_grants.csv").write_text(
        GRANTS.strip() + ",applies_to\n"
        "g_any,c1,2026-09-01,100,purchased,1,,,\n"
        f'g1,c1,2026-09-01,100,purchased,1,,,"{applies_to}"\n'
    )
    charges = pl.DataFrame({"charge_id": ["gpu", "calls"]})
    return load_reference(tmp_path, NO_PLANS, None, charges)["credit_grants"]


def test_what_a_grant_may_pay_is_kept_as_its_entries(tmp_path):
    grants = _grants_applying_to(tmp_path, " charge:gpu ; usage;;base_fee ")
    assert grants["applies_to"].to_list() == [None, "charge:gpu;usage;base_fee"]


@pytest.mark.parametrize(
    ("applies_to", "message"),
    [
        ("fees", "'fees' is not base_fee, usage or charge:<charge_id>"),
        (
            "usage;charge:storage",
            "'charge:storage': no plan of the price book has charge 'storage'",
        ),
        ("Base_Fee", "'Base_Fee' is not base_fee, usage or charge:<charge_id>"),
    ],
)
def test_a_grant_for_something_no_invoice_has_is_refused_naming_row_and_field(
    tmp_path, applies_to, message
):
    with pytest.raises(ReferenceDataError) as exc:
        _grants_applying_to(tmp_path, applies_to)
    assert str(exc.value) == f"credit_grants.csv: row 3: applies_to: {message}"


def _recurring(tmp_path, recurrence: str, ends: str, cap: str):
    from lake.reference import load_reference

    (tmp_path / "customers.csv").write_text("customer_id,name,currency\nc1,One,USD\n")
    (tmp_path / "subscriptions.csv").write_text("subscription_id,customer_id,plan_id,started_at\n")
    (tmp_path / "credit_grants.csv").write_text(
        GRANTS.strip() + ",recurrence,recurrence_ends_at,rollover_cap\n"
        f"g1,c1,2026-10-01,1000,promotional,0,,20,{recurrence},{ends},{cap}\n"
    )
    return load_reference(tmp_path, NO_PLANS)["credit_grants"]


def test_a_recurring_grant_is_read_with_its_end_and_cap(tmp_path):
    row = _recurring(tmp_path, "Monthly", "2027-10-01", "200").row(0, named=True)
    assert (row["recurrence"], row["recurrence_ends_at"], row["rollover_cap"]) == (
        "monthly",
        dt.date(2027, 10, 1),
        Decimal(200),
    )


@pytest.mark.parametrize(
    ("recurrence", "ends", "cap", "message"),
    [
        ("weekly", "", "", "recurrence: 'weekly' is not monthly, quarterly or yearly"),
        ("", "2027-10-01", "", "recurrence_ends_at: set on a grant without a recurrence"),
        (
            "monthly",
            "2026-10-01",
            "",
            "recurrence_ends_at: 2026-10-01 is not after granted_at 2026-10-01",
        ),
        ("monthly", "", "-1", "rollover_cap: -1 is negative"),
    ],
)
def test_a_recurrence_that_cannot_hold_is_refused_naming_row_and_field(
    tmp_path, recurrence, ends, cap, message
):
    with pytest.raises(ReferenceDataError) as exc:
        _recurring(tmp_path, recurrence, ends, cap)
    assert str(exc.value) == f"credit_grants.csv: row 2: {message}"


TOPUPS = "topup_id,customer_id,threshold_credits,topup_credits,target_credits,price_per_credit,kind,priority,starts_on,ends_on,max_per_period\n"


def _topups(tmp_path, *rows: str):
    from lake.reference import load_reference

    (tmp_path / "customers.csv").write_text("customer_id,name,currency\nc1,One,USD\n")
    (tmp_path / "subscriptions.csv").write_text("subscription_id,customer_id,plan_id,started_at\n")
    (tmp_path / "credit_topups.csv").write_text(TOPUPS + "".join(r + "\n" for r in rows))
    return load_reference(tmp_path, NO_PLANS)["credit_topups"]


def test_a_top_up_rule_is_read_with_its_defaults(tmp_path):
    row = _topups(tmp_path, "t1,c1,1000,5000,,0.01,,,2026-10-01,,").row(0, named=True)
    assert (row["kind"], row["priority"], row["max_per_period"], row["price_per_credit"]) == (
        "purchased",
        50,
        1,
        Decimal("0.01"),
    )
    assert row["starts_on"] == dt.date(2026, 10, 1) and row["ends_on"] is None
    promotional = _topups(tmp_path, "t1,c1,0,,500,,promotional,,,,3").row(0, named=True)
    assert (promotional["target_credits"], promotional["price_per_credit"]) == (Decimal(500), 0)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("t1,c1,1000,5000,800,0.01,,,,,", "topup_credits, target_credits: set exactly one"),
        ("t1,c1,1000,,,0.01,,,,,", "topup_credits, target_credits: set exactly one"),
        ("t1,c1,1000,,1000,0.01,,,,,", "target_credits: 1000 is not above threshold_credits 1000"),
        ("t1,c1,1000,0,,0.01,,,,,", "topup_credits: 0 is not above 0"),
        ("t1,c1,1000,10,,0.01,,,,,0", "max_per_period: 0 is not from 1 to 100"),
        ("t1,c1,1000,10,,0.01,,,,,101", "max_per_period: 101 is not from 1 to 100"),
        ("t1,c9,1000,10,,0.01,,,,,", "customer_id: 'c9' is not in customers.csv"),
        ("t1,c1,1000,10,,,purchased,,,,", "price_per_credit: is required for a purchased top-up"),
        ("t1,c1,1000,10,,0.01,gift,,,,", "kind: 'gift' is not purchased or promotional"),
        ("t1,c1,1000,10,,0.01,,,2026-10-01,2026-09-01,", "ends_on: 2026-09-01 is not after"),
    ],
)
def test_a_top_up_rule_that_cannot_hold_is_refused_naming_row_and_field(tmp_path, row, message):
    with pytest.raises(ReferenceDataError) as exc:
        _topups(tmp_path, row)
    assert str(exc.value).startswith(f"credit_topups.csv: row 2: {message}")


def test_two_top_up_rules_in_force_together_for_a_customer_are_refused(tmp_path):
    with pytest.raises(ReferenceDataError) as exc:
        _topups(
            tmp_path,
            "t1,c1,1000,10,,0.01,,,2026-01-01,2026-12-01,",
            "t2,c1,1000,10,,0.01,,,2026-11-01,,",
        )
    assert str(exc.value) == (
        "credit_topups.csv: row 3: topup_id 't2' is in force on days 't1' is, for customer "
        "'c1'; a customer has at most one top-up rule at a time"
    )
    later = _topups(
        tmp_path,
        "t1,c1,1000,10,,0.01,,,2026-01-01,2026-12-01,",
        "t2,c1,1000,10,,0.01,,,2026-12-01,,",
    )
    assert later["topup_id"].to_list() == ["t1", "t2"]
