"""Invoice documents: what a customer and their accounts-payable system read.

The issued store is written by `issue_month` itself (no warehouse needed): a price book with a
graduated charge, a base fee and a minimum, customers billed in USD, JPY and KWD (3 decimals).
"""

import calendar
import datetime as dt
import json
from decimal import Decimal as D

import polars as pl
import pytest

from lake.home import Home
from lake.io import write_table
from lake.issued import issue_month
from lake.price_book import price_book_tables
from publish.documents import write_documents
from transforms.money import MoneyError, format_money, in_minor_units
from transforms.pricebook import parse_price_book

PRICE_BOOK = """
plans:
  - plan_id: growth
    name: Growth
    version: 1
    effective_from: 2026-01-01
    currency: USD
    base_fee: "49.00"
    minimum_commitment: "100"
    charges:
      - charge_id: api_calls
        metric: api_calls
        aggregation: count
        model: graduated
        description: API calls
        tiers:
          - {up_to: 1000, unit_price: "0.002"}
          - {up_to: null, unit_price: "0.001", flat_fee: "5.00"}
  - plan_id: tokyo
    version: 1
    effective_from: 2026-01-01
    currency: JPY
    charges:
      - {charge_id: image_renders, metric: renders, model: per_unit, unit_price: "2.5", free_units: 10}
  - plan_id: kuwait
    version: 1
    effective_from: 2026-01-01
    currency: KWD
    charges:
      - {charge_id: sms, metric: sms, model: package, package_size: 100, package_price: "1.250"}
  - plan_id: platform
    version: 1
    effective_from: 2026-01-01
    currency: USD
    charges:
      - {charge_id: card_fees, metric: payments, model: percentage, rate: "0.029"}
      - {charge_id: active_users, metric: logins, aggregation: unique_count,
         unique_property: user_id, model: per_unit, unit_price: "4.00"}
      - {charge_id: peak_storage, metric: storage_gb, aggregation: max, model: per_unit,
         unit_price: "0.08"}
      - {charge_id: archive, metric: archive_gb, aggregation: max, model: per_unit,
         unit_price: "0.01", unit: GB-months}
"""

SEPT, OCT = dt.date(2026, 9, 1), dt.date(2026, 10, 1)
ISSUED_AT = dt.datetime(2026, 10, 3, 6, 0, tzinfo=dt.UTC)


def money(value: str) -> D:
    return D(value)


def invoice(customer: str, month: dt.date, currency: str, subtotal: str) -> dict:
    end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return {
        "invoice_id": f"INV-{month:%Y-%m}-{customer}",
        "customer_id": customer,
        "period_start": month,
        "period_end": end,
        "currency": currency,
        "subtotal": money(subtotal),
        "tax": money("0"),
        "credit_rate": None,
    }


def line(customer, month, currency, kind, charge, plan, quantity, amount) -> dict:
    inv = f"INV-{month:%Y-%m}-{customer}"
    return {
        "invoice_line_id": f"{inv}:{kind}:{charge or ''}",
        "invoice_id": inv,
        "customer_id": customer,
        "period_start": month,
        "line_type": kind,
        "charge_id": charge,
        "group_key": None,
        "quantity": D(quantity),
        "amount": money(amount),
        "currency": currency,
        "plan_id": plan,
        "plan_version": 1,
        "tax_rate": D(0),
        "coupon_id": None,
        # September's days (its fee is prorated over them)
        "period_days": calendar.monthrange(month.year, month.month)[1],
        "service_period_start": None,  # the segment's days (fee(): a fee's own)
        "service_period_end": None,
    }


@pytest.fixture
def home(tmp_path):
    home = Home.at(tmp_path)
    for name, frame in price_book_tables(parse_price_book([("plans.yaml", PRICE_BOOK)])).items():
        write_table(frame, home.lake_pricing / f"{name}.parquet")
    customers = pl.DataFrame(
        {
            "customer_id": ["acme", "kaiju", "souq", "plato"],
            "name": ["Acme Corp", "Kaiju KK", "Souq Co", "Plato Pay"],
        }
    )
    write_table(customers, home.lake_reference / "customers.parquet")
    return home


def close(home: Home, month: dt.date, invoices: list[dict], lines: list[dict], terms=30):
    frame = pl.DataFrame(invoices).with_columns(
        pl.col("subtotal").cast(pl.Decimal(38, 4)),
        pl.col("tax").cast(pl.Decimal(38, 4)),
        pl.col("credit_rate").cast(pl.Decimal(38, 12)),
    )
    issue_month(
        home,
        month,
        frame,
        pl.DataFrame(lines),
        now=ISSUED_AT + dt.timedelta(days=31 * (month.month - 9)),
        payment_terms_days=terms,
    )
    write_documents(home, month)


def september(home: Home, terms=30):
    close(
        home,
        SEPT,
        [
            invoice("acme", SEPT, "USD", "121.50"),
            invoice("kaiju", SEPT, "JPY", "1250"),
            invoice("souq", SEPT, "KWD", "3.750"),
        ],
        [
            line("acme", SEPT, "USD", "base_fee", None, "growth", "30", "49.00"),
            line("acme", SEPT, "USD", "usage", "api_calls", "growth", "1500", "7.50"),
            line("acme", SEPT, "USD", "minimum_true_up", None, "growth", "30", "65.00"),
            line("kaiju", SEPT, "JPY", "usage", "image_renders", "tokyo", "510", "1250"),
            line("souq", SEPT, "KWD", "usage", "sms", "kuwait", "250", "3.750"),
        ],
        terms,
    )


def document(home: Home, invoice_id: str) -> dict:
    return json.loads((home.exports / f"{invoice_id}.json").read_text())


def test_money_is_shown_in_the_currencys_minor_units():
    assert format_money(D("12.5"), "USD") == "12.50 USD"
    assert format_money(D("1250.0000"), "JPY") == "1,250 JPY"
    assert format_money(D("1234.5670"), "KWD") == "1,234.567 KWD"
    assert format_money(D("-5"), "EUR") == "-5.00 EUR"
    assert format_money(D("-1234567.8"), "USD") == "-1,234,567.80 USD"
    assert format_money(D("12345678901234567890123456.10"), "USD") == (
        "12,345,678,901,234,567,890,123,456.10 USD"
    )
    assert in_minor_units(D("3.7500"), "KWD") == D("3.750")
    with pytest.raises(MoneyError):
        format_money(D("1.005"), "USD")  # never rounded silently on a document


def test_a_document_has_what_a_customer_and_their_payables_team_need(home):
    september(home)
    doc = document(home, "INV-2026-09-acme")
    assert doc["invoice_number"] == 1
    assert doc["customer"] == {
        "customer_id": "acme",
        "name": "Acme Corp",
        "billing_address": None,
        "tax_id": None,
    }
    assert doc["seller"] is None  # the home has no seller.yaml
    assert doc["period"] == {"first_day": "2026-09-01", "last_day": "2026-09-30"}
    assert (doc["issue_date"], doc["due_date"]) == ("2026-10-03", "2026-11-02")
    assert (doc["subtotal"], doc["credits_applied"], doc["amount_due"]) == (
        "121.50",
        "0.00",
        "121.50",
    )
    lines = [(ln["description"], ln["quantity"], ln["unit"], ln["amount"]) for ln in doc["lines"]]
    assert lines == [
        ("Growth plan, base fee", "30", "days", "49.00"),
        ("API calls", "1500", "API calls", "7.50"),
        ("Growth plan, minimum commitment true-up", "30", "days", "65.00"),
    ]
    base, calls, _ = doc["lines"]
    assert base["pricing"] == "49.00 USD per month, 30 of 30 days"
    tiers = [
        (t["range"], t["from"], t["up_to"], t["units"], t["unit_price"], t["flat_fee"])
        for t in calls["tiers"]
    ]
    assert tiers == [
        ("1 to 1,000", "0", "1000", "1000", "0.002", "0"),
        ("1,001 and above", "1000", None, "500", "0.001", "5"),
    ]
    html = (home.exports / "INV-2026-09-acme.html").read_text()
    assert "tier 1: 1 to 1,000" in html and "tier 2: 1,001 and above" in html


def test_a_line_says_what_its_quantity_counts(home):
    """The unit follows what the charge measures, unless the price book names one: a
    percentage fee's quantity is money, a unique count counts distinct values."""
    close(
        home,
        SEPT,
        [invoice("plato", SEPT, "USD", "137.43")],
        [
            line("plato", SEPT, "USD", "usage", "card_fees", "platform", "1093.3", "31.71"),
            line("plato", SEPT, "USD", "usage", "active_users", "platform", "26", "104.00"),
            line("plato", SEPT, "USD", "usage", "peak_storage", "platform", "12.5", "1.00"),
            line("plato", SEPT, "USD", "usage", "archive", "platform", "72", "0.72"),
        ],
    )
    doc = document(home, "INV-2026-09-plato")
    units = {ln["charge_id"]: (ln["quantity"], ln["unit"]) for ln in doc["lines"]}
    assert units == {
        "card_fees": ("1093.30", "USD"),  # payment volume: money, in its minor units
        "active_users": ("26", "distinct users"),
        "peak_storage": ("12.5", "storage GB"),
        "archive": ("72", "GB-months"),  # the price book's own unit
    }
    html = (home.exports / "INV-2026-09-plato.html").read_text()
    for shown in ("1,093.30 USD", "26 distinct users", "12.5 storage GB", "72 GB-months"):
        assert shown in html


def fee(customer, month, amount, days, service_start, service_end):
    """A base-fee line of the growth plan for the days from service_start to service_end."""
    out = line(customer, month, "USD", "base_fee", None, "growth", days, amount)
    suffix = "" if service_start.month == month.month else f":{service_start}"
    out["invoice_line_id"] += suffix
    return out | {"service_period_start": service_start, "service_period_end": service_end}


def test_a_fee_in_advance_names_the_days_it_pays_for_and_unused_days_credited(home):
    """Growth's 49.00 paid in advance from 10 October, ended 20 November: October's document
    shows October's part and November's whole fee, November's the 11 unused days credited."""
    nov = dt.date(2026, 11, 1)
    close(
        home,
        OCT,
        [invoice("acme", OCT, "USD", "83.77")],
        [
            fee("acme", OCT, "34.77", "22", dt.date(2026, 10, 10), nov),
            fee("acme", OCT, "49.00", "30", nov, dt.date(2026, 12, 1)),
        ],
    )
    close(
        home,
        nov,
        [invoice("acme", nov, "USD", "-17.97")],
        [fee("acme", nov, "-17.97", "-11", dt.date(2026, 11, 20), dt.date(2026, 12, 1))],
    )
    october = [
        (ln["description"], ln["pricing"]) for ln in document(home, "INV-2026-10-acme")["lines"]
    ]
    assert october == [
        ("Growth plan, base fee", "49.00 USD per month, 22 of 31 days"),
        (
            "Growth plan, base fee in advance for 2026-11-01 to 2026-11-30",
            "49.00 USD per month, 30 of 30 days",
        ),
    ]
    [credit] = document(home, "INV-2026-11-acme")["lines"]
    assert (credit["description"], credit["pricing"], credit["quantity"], credit["amount"]) == (
        "Growth plan, base fee paid in advance: unused days 2026-11-20 to 2026-11-30 credited",
        "49.00 USD per month, 11 of 30 days",
        "-11",
        "-17.97",
    )


def test_no_credit_applied_reads_zero_not_minus_zero(home):
    september(home)
    html = (home.exports / "INV-2026-09-acme.html").read_text()
    assert '<td class="num" id="credits-applied">0.00 USD</td>' in html
    assert "-0.00" not in html and "\u2212" not in html and "&minus;" not in html


def test_amounts_have_the_minor_units_of_yen_and_dinars(home):
    september(home)
    yen = document(home, "INV-2026-09-kaiju")
    assert (yen["subtotal"], yen["lines"][0]["amount"]) == ("1250", "1250")
    assert yen["lines"][0]["description"] == "Image renders"  # no description: readable id
    assert yen["lines"][0]["pricing"] == "2.5 JPY per unit, first 10 free"
    dinar = document(home, "INV-2026-09-souq")
    assert dinar["amount_due"] == "3.750"
    assert dinar["lines"][0]["pricing"] == "1.250 KWD per package of 100"
    html = (home.exports / "INV-2026-09-kaiju.html").read_text()
    assert "1,250 JPY" in html and "1250.0000" not in html
    assert "3.750 KWD" in (home.exports / "INV-2026-09-souq.html").read_text()


def test_the_html_shows_the_documents_figures_and_prints_on_a4_and_letter(home):
    september(home)
    html = (home.exports / "INV-2026-09-acme.html").read_text()
    for text in ("Invoice 1", "Acme Corp", "2026-09-01 to 2026-09-30", "2026-11-02", "121.50 USD"):
        assert text in html
    assert "@page" in html and "max-width: 180mm" in html  # A4 is 210 mm wide, Letter 216 mm


def test_numbers_are_consecutive_across_months_and_payment_terms_apply(home):
    september(home)
    close(
        home,
        OCT,
        [invoice("kaiju", OCT, "JPY", "40"), invoice("acme", OCT, "USD", "100.00")],
        [
            line("acme", OCT, "USD", "base_fee", None, "growth", "31", "49.00"),
            line("kaiju", OCT, "JPY", "usage", "image_renders", "tokyo", "26", "40"),
        ],
        terms=14,
    )
    numbers = {
        d["invoice_id"]: (d["invoice_number"], d["due_date"])
        for d in map(json.loads, (p.read_text() for p in home.exports.glob("*.json")))
    }
    assert numbers == {
        "INV-2026-09-acme": (1, "2026-11-02"),
        "INV-2026-09-kaiju": (2, "2026-11-02"),
        "INV-2026-09-souq": (3, "2026-11-02"),
        "INV-2026-10-acme": (4, "2026-11-17"),  # issued 2026-11-03, 14 days
        "INV-2026-10-kaiju": (5, "2026-11-17"),
    }


def test_documents_are_written_once_and_missing_ones_are_filled_in(home):
    september(home)
    acme = home.exports / "INV-2026-09-acme.html"
    before = {p.name: p.read_bytes() for p in home.exports.iterdir()}
    acme.unlink()  # a crash after the commit, before this document
    assert write_documents(home, SEPT) == 1
    assert {p.name: p.read_bytes() for p in home.exports.iterdir()} == before
    assert write_documents(home, SEPT) == 0


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("INV-2026-09-c_unit:api_calls", "Correction to invoice INV-2026-09-c_unit, API calls"),
        (
            "INV-2026-09-c_caps:capped_calls:spend_cap",
            "Correction to invoice INV-2026-09-c_caps, Capped calls, spend cap",
        ),
        (
            "INV-2026-09-c_caps:floor_tokens:minimum_true_up",
            "Correction to invoice INV-2026-09-c_caps, Floor tokens, minimum spend true-up",
        ),
        # the plan's own lines are keyed by their line type
        (
            "INV-2026-09-c_pct:minimum_true_up",
            "Correction to invoice INV-2026-09-c_pct, minimum commitment true-up",
        ),
        ("INV-2026-09-c:base_fee", "Correction to invoice INV-2026-09-c, base fee"),
    ],
)
def test_an_adjustment_line_says_what_it_corrects(key, text):
    from publish.price_text import correction_text

    assert correction_text(key) == text


SELLER = """\
legal_name: Example Cloud Ltd
address: |
  1 Sample Street
  London EC1A 1AA
tax_id: GB123456789
payment_instructions: Bank transfer to IBAN GB00 EXMP 0000 0000 0000 00, reference the invoice number.
"""


def test_a_sendable_document_names_the_seller_and_bills_the_customer_at_their_address(home):
    from lake.reference import write_reference  # noqa: F401 (the lake copy is what documents read)
    from transforms.seller import parse_seller

    seller = parse_seller(SELLER)
    (home.lake_reference / "seller.json").write_text(json.dumps(seller.as_dict()))
    customers = pl.DataFrame(
        {
            "customer_id": ["acme", "kaiju", "souq", "plato"],
            "name": ["Acme Corp", "Kaiju KK", "Souq Co", "Plato Pay"],
            "billing_address": ["500 Market St\nSan Francisco, CA 94105", None, None, None],
            "tax_id": ["US-EIN 12-3456789", None, None, None],
        }
    )
    write_table(customers, home.lake_reference / "customers.parquet")
    september(home)
    doc = document(home, "INV-2026-09-acme")
    assert doc["seller"] == {
        "legal_name": "Example Cloud Ltd",
        "address": "1 Sample Street\nLondon EC1A 1AA",
        "tax_id": "GB123456789",
        "payment_instructions": (
            "Bank transfer to IBAN GB00 EXMP 0000 0000 0000 00, reference the invoice number."
        ),
    }
    assert doc["customer"] == {
        "customer_id": "acme",
        "name": "Acme Corp",
        "billing_address": "500 Market St\nSan Francisco, CA 94105",
        "tax_id": "US-EIN 12-3456789",
    }
    html = (home.exports / "INV-2026-09-acme.html").read_text()
    for text in (
        "Example Cloud Ltd",
        "Tax id GB123456789",
        "500 Market St",
        "Tax id US-EIN 12-3456789",
    ):
        assert text in html
    assert 'id="payment-instructions"' in html
    # The address and tax id are frozen at issue: an edit afterwards changes no document.
    write_table(
        customers.with_columns(pl.lit("moved").alias("billing_address")),
        home.lake_reference / "customers.parquet",
    )
    (home.exports / "INV-2026-09-acme.json").unlink()
    write_documents(home, SEPT)
    assert document(home, "INV-2026-09-acme")["customer"]["billing_address"].startswith(
        "500 Market St"
    )


def test_an_invoice_owing_the_customer_comes_with_a_credit_note_in_its_own_series(home):
    september(home)  # invoices 1 to 3
    close(
        home,
        OCT,
        [invoice("acme", OCT, "USD", "-12.50"), invoice("kaiju", OCT, "JPY", "300")],
        [
            line(
                "acme", OCT, "USD", "adjustment", "INV-2026-09-acme:api_calls", None, "0", "-12.50"
            ),
            line("kaiju", OCT, "JPY", "usage", "image_renders", "tokyo", "130", "300"),
        ],
    )
    invoice_doc = document(home, "INV-2026-10-acme")
    note = document(home, "credit-notes/INV-2026-10-acme")
    assert (invoice_doc["document"], invoice_doc["invoice_number"], invoice_doc["amount_due"]) == (
        "invoice",
        4,
        "0.00",
    )
    assert (
        note["document"],
        note["credit_note_number"],
        note["amount_credited"],
        note["amount_due"],
    ) == (
        "credit_note",
        1,
        "12.50",
        "0.00",
    )
    assert note["credited_invoice"] == {"invoice_id": "INV-2026-10-acme", "invoice_number": 4}
    html = (home.exports / "credit-notes" / "INV-2026-10-acme.html").read_text()
    assert "Credit note 1" in html and "12.50 USD" in html
    assert not (home.exports / "credit-notes" / "INV-2026-10-kaiju.json").exists()
    # The next credit note is number 2, whatever the invoice numbers have reached.
    nov = dt.date(2026, 11, 1)
    close(
        home,
        nov,
        [invoice("kaiju", nov, "JPY", "-40")],
        [
            line(
                "kaiju",
                nov,
                "JPY",
                "adjustment",
                "INV-2026-10-kaiju:image_renders",
                None,
                "0",
                "-40",
            )
        ],
    )
    assert document(home, "credit-notes/INV-2026-11-kaiju")["credit_note_number"] == 2
    assert document(home, "INV-2026-11-kaiju")["invoice_number"] == 6
