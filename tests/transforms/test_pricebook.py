"""The price book is refused before any data is touched, with file, plan and field named."""

import textwrap
from decimal import Decimal

import pytest

from lake.price_book import load_price_book
from transforms.pricebook import PriceBookError

PLAN = """
plans:
  - plan_id: growth
    version: 2
    effective_from: 2026-10-01
    currency: USD
    base_fee: 49.10
    charges:
      - charge_id: calls
        metric: api_calls
        model: per_unit
        unit_price: "0.002"
"""


def book_from(tmp_path, text):
    path = tmp_path / "plans.yaml"
    path.write_text(textwrap.dedent(text))
    return load_price_book([path], base=tmp_path)


def test_money_is_read_exactly_even_when_unquoted(tmp_path):
    plan = book_from(tmp_path, PLAN).plans[0]
    assert plan.base_fee == Decimal("49.10")
    assert plan.charges[0].unit_price == Decimal("0.002")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("model: per_unit", "model: magic"),
            "plans.yaml: plan growth v2: charges[0].model: unknown model 'magic'",
        ),
        (
            ("currency: USD", "currency: XXY"),
            "plans.yaml: plan growth v2: currency: 'XXY' is not an ISO 4217",
        ),
        (
            ('unit_price: "0.002"', 'unit_price: "two"'),
            "plans.yaml: plan growth v2: charges[0].unit_price: 'two' is not a decimal",
        ),
        (
            ("base_fee: 49.10", "base_fee: -1"),
            "plans.yaml: plan growth v2: base_fee: must be at least 0",
        ),
        (
            ("version: 2", "version: two"),
            "plans.yaml: plan growth: version: must be a whole number",
        ),
        (
            ('unit_price: "0.002"', 'unit_price: "0.002"\n        unit: 12'),
            "plans.yaml: plan growth v2: charges[0].unit: must be a non-empty string",
        ),
        (
            ('unit_price: "0.002"', 'unit_price: "0.002"\n        unit: "calls\\nmore"'),
            "plans.yaml: plan growth v2: charges[0].unit: must be one line of printable text",
        ),
        (
            ('unit_price: "0.002"', f'unit_price: "0.002"\n        unit: {"x" * 41}'),
            "plans.yaml: plan growth v2: charges[0].unit: must be at most 40 characters",
        ),
    ],
)
def test_faults_name_file_plan_and_field(tmp_path, change, message):
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, PLAN.replace(*change))
    assert str(err.value).startswith(message)


def test_a_charge_may_name_its_unit(tmp_path):
    text = PLAN.replace(
        'unit_price: "0.002"', 'unit_price: "0.002"\n        unit: " API requests "'
    )
    assert book_from(tmp_path, text).plans[0].charges[0].unit == "API requests"
    assert book_from(tmp_path, PLAN).plans[0].charges[0].unit is None  # derived where shown


def test_tiers_out_of_order_are_refused(tmp_path):
    text = PLAN.replace(
        'model: per_unit\n        unit_price: "0.002"',
        "model: graduated\n        tiers:\n          - {up_to: 100, unit_price: '1'}\n"
        "          - {up_to: 50, unit_price: '1'}\n          - {up_to: null, unit_price: '1'}",
    )
    with pytest.raises(
        PriceBookError, match=r"charges\[0\]\.tiers\[1\]\.up_to: tiers out of order"
    ):
        book_from(tmp_path, text)


def test_overlapping_filters_on_one_metric_are_refused(tmp_path):
    text = PLAN + textwrap.indent(
        textwrap.dedent(
            """\
            - charge_id: ok_calls
              metric: api_calls
              filter: {status: [200]}
              model: per_unit
              unit_price: "0.001"
            """
        ),
        "      ",
    )
    with pytest.raises(
        PriceBookError, match=r"charges\[1\]\.filter: overlaps charges\[0\] \(calls\)"
    ):
        book_from(tmp_path, text)


def test_disjoint_filters_are_accepted(tmp_path):
    text = PLAN.replace(
        'unit_price: "0.002"', 'unit_price: "0.002"\n        filter: {status: success}'
    ) + textwrap.indent(
        textwrap.dedent(
            """\
            - charge_id: failed_calls
              metric: api_calls
              filter: {status: [500, 503]}
              model: per_unit
              unit_price: "0"
            """
        ),
        "      ",
    )
    assert [c.charge_id for c in book_from(tmp_path, text).plans[0].charges] == [
        "calls",
        "failed_calls",
    ]


# --- hostile price books: refused with the place named, never changed or built ---------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('unit_price: "0.002"', 'unit_price: "0.002"\n        unit_price: "0.001"'),
            "plans.yaml: not valid YAML: while reading a mapping",
        ),
        (
            ('unit_price: "0.002"', "unit_price: 0.30000000000000004"),
            "charges[0].unit_price: 0.30000000000000004 has more than 12 decimals",
        ),
        (
            ('unit_price: "0.002"', 'unit_price: "0.0000000000001"'),
            "charges[0].unit_price: 1E-13 has more than 12 decimals",
        ),
        (
            ('unit_price: "0.002"', 'unit_price: "1e26"'),
            "charges[0].unit_price: 1E+26 is not below 1,000,000,000",
        ),
        (
            ("base_fee: 49.10", "base_fee: 1000000000000.00"),
            "base_fee: 1000000000000.00 is not below 1,000,000,000,000",
        ),
        (
            ("version: 2", "version: 3000000000"),
            "plans.yaml: plan growth: version: must be a whole number from 1 to 2,147,483,647",
        ),
        (
            (
                'model: per_unit\n        unit_price: "0.002"',
                'model: package\n        package_size: 0.0000000001\n        package_price: "1"',
            ),
            "charges[0].package_size: 1E-10 has more than 9 decimals",
        ),
    ],
)
def test_a_number_that_would_change_or_not_fit_is_refused(tmp_path, change, message):
    with pytest.raises(PriceBookError) as exc:
        book_from(tmp_path, PLAN.replace(*change))
    assert message in str(exc.value)


def test_a_key_given_twice_names_the_key_and_both_lines(tmp_path):
    with pytest.raises(PriceBookError) as exc:
        book_from(tmp_path, PLAN.replace("currency: USD", "currency: USD\n    currency: EUR"))
    assert "key 'currency' is given twice (first at line 6)" in str(exc.value)
    assert "line 7" in str(exc.value)


def test_yaml_aliases_are_refused_before_anything_is_built(tmp_path):
    laughs = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 30):  # 9^30 elements if it were built
        prev, name = (
            chr(ord("a") + (i - 1) % 26) * (1 + (i - 1) // 26),
            chr(ord("a") + i % 26) * (1 + i // 26),
        )
        laughs.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "laughs.yaml").write_text("\n".join(laughs) + "\nplans: []\n")
    with pytest.raises(PriceBookError) as exc:
        load_price_book([tmp_path / "laughs.yaml"], base=tmp_path)
    assert "aliases (*name) are not allowed in a price book" in str(exc.value)


def test_an_oversized_price_book_file_is_refused_unread(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("plans: []\n" + "#" * (1 << 20))
    with pytest.raises(PriceBookError, match="huge.yaml: larger than 1,048,576 bytes"):
        load_price_book([path], base=tmp_path)


@pytest.mark.parametrize(
    ("field", "scale", "whole"),
    [
        ("unit_price", 12, 9),
        ("base_fee", 12, 12),
        ("minimum_commitment", 12, 12),
        ("credit_rate", 12, 9),
    ],
)
@pytest.mark.parametrize("excess", ["decimals", "whole digits"])
def test_every_number_field_has_its_limits(tmp_path, field, scale, whole, excess):
    """The class: every price-book number either fits its warehouse type exactly or is
    refused; the limit itself is accepted."""

    def plan_with(value: str) -> str:
        if field == "unit_price":
            return PLAN.replace('unit_price: "0.002"', f'unit_price: "{value}"')
        if field == "base_fee":
            return PLAN.replace("base_fee: 49.10", f'base_fee: "{value}"')
        return PLAN.replace("base_fee: 49.10", f'base_fee: 49.10\n    {field}: "{value}"')

    at_limit = "9" * whole + "." + "9" * scale
    plan = book_from(tmp_path, plan_with(at_limit)).plans[0]
    got = plan.charges[0].unit_price if field == "unit_price" else getattr(plan, field)
    assert got == Decimal(at_limit)
    beyond = "0." + "0" * scale + "1" if excess == "decimals" else "1" + "0" * whole
    with pytest.raises(PriceBookError, match=field):
        book_from(tmp_path, plan_with(beyond))


def test_a_price_book_folder_nested_inside_the_price_book_is_refused(tmp_path):
    """`cp -r pricing candidate` run twice nests a copy: its plans must not vanish unsaid."""
    from lake.price_book import price_book_files

    (tmp_path / "candidate" / "pricing").mkdir(parents=True)
    (tmp_path / "candidate" / "plans.yaml").write_text(PLAN)
    (tmp_path / "candidate" / "pricing" / "plans.yaml").write_text(PLAN)
    with pytest.raises(PriceBookError) as err:
        price_book_files(tmp_path / "candidate")
    assert str(err.value).startswith(
        "candidate/pricing/: a folder of price-book files inside the price book "
        "(pricing/plans.yaml); only the *.yaml files directly in candidate/ are read"
    )
    (tmp_path / "candidate" / "pricing" / "plans.yaml").unlink()  # an empty folder is harmless
    assert price_book_files(tmp_path / "candidate") == [tmp_path / "candidate" / "plans.yaml"]


TIERED = """
plans:
  - plan_id: breadth
    version: 1
    effective_from: 2026-10-01
    currency: USD
    charges:
      - charge_id: fees
        metric: payout_amount
        model: graduated_percentage
        tiers:
          - {up_to: 10, rate: "0.01", flat_fee: "200"}
          - {up_to: null, rate: "0.03"}
      - charge_id: blocks
        metric: api_calls
        model: graduated
        tiers:
          - {up_to: 1000, package_size: 100, package_price: "1"}
          - {up_to: null, unit_price: "0.001"}
      - charge_id: seats
        metric: seats
        model: package
        package_size: 100
        package_price: "2.00"
        rounding: down
      - {charge_id: gpu, metric: gpus, aggregation: avg, model: per_unit, unit_price: "30"}
      - {charge_id: floor, metric: replicas, aggregation: min, model: per_unit, unit_price: "5"}
"""


def test_tiers_at_a_rate_or_in_packages_packages_rounded_down_avg_and_min_are_read(tmp_path):
    fees, blocks, seats, gpu, floor = book_from(tmp_path, TIERED).plans[0].charges
    assert [t.rate for t in fees.tiers] == [Decimal("0.01"), Decimal("0.03")]
    assert (blocks.tiers[0].package_size, blocks.tiers[0].package_price) == (100, 1)
    assert blocks.tiers[1].unit_price == Decimal("0.001")
    assert seats.rounding == "down"
    assert (gpu.aggregation, floor.aggregation) == ("avg", "min")


W = "plans.yaml: plan breadth v1: charges"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('{up_to: null, rate: "0.03"}', "{up_to: null}"),
            f"{W}[0].tiers[1].rate: is required",
        ),
        (
            ('{up_to: null, rate: "0.03"}', '{up_to: null, rate: "-0.03"}'),
            f"{W}[0].tiers[1].rate: must be at least 0",
        ),
        (
            ('{up_to: null, rate: "0.03"}', '{up_to: null, rate: "0.03", unit_price: "1"}'),
            f"{W}[0].tiers[1].unit_price: does not apply to the tiers of model "
            "graduated_percentage",
        ),
        (
            ('{up_to: null, rate: "0.03"}', '{up_to: null, rate: "0.03", package_size: 10}'),
            f"{W}[0].tiers[1].package_size: does not apply to the tiers of model "
            "graduated_percentage",
        ),
        (
            ('{up_to: null, unit_price: "0.001"}', '{up_to: null, rate: "0.001"}'),
            f"{W}[1].tiers[1].rate: does not apply to the tiers of model graduated",
        ),
        (
            (
                '{up_to: 1000, package_size: 100, package_price: "1"}',
                '{up_to: 1000, package_size: 100, package_price: "1", unit_price: "1"}',
            ),
            f"{W}[1].tiers[0].package_size: a tier has unit_price or "
            "package_size/package_price, not both",
        ),
        (
            (
                '{up_to: 1000, package_size: 100, package_price: "1"}',
                "{up_to: 1000, package_size: 100}",
            ),
            f"{W}[1].tiers[0].package_price: is required with package_size",
        ),
        (
            (
                '{up_to: 1000, package_size: 100, package_price: "1"}',
                '{up_to: 1000, package_size: 0, package_price: "1"}',
            ),
            f"{W}[1].tiers[0].package_size: must be greater than 0",
        ),
        (
            ("rounding: down", "rounding: nearest"),
            f"{W}[2].rounding: must be up or down",
        ),
        (
            ('unit_price: "30"}', 'unit_price: "30", rounding: down}'),
            f"{W}[3].rounding: does not apply to model per_unit",
        ),
        (
            ("aggregation: avg", "aggregation: mean"),
            f"{W}[3].aggregation: unknown aggregation 'mean'",
        ),
    ],
)
def test_tier_rates_packages_and_rounding_are_refused_where_they_do_not_belong(
    tmp_path, change, message
):
    assert change[0] in TIERED
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, TIERED.replace(*change))
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('unit_price: "0.002"', 'unit_price: "0.002"\n        minimum: "-1"'),
            "plans.yaml: plan growth v2: charges[0].minimum: must be at least 0",
        ),
        (
            (
                'unit_price: "0.002"',
                'unit_price: "0.002"\n        minimum: "20"\n        maximum: "10"',
            ),
            "plans.yaml: plan growth v2: charges[0].minimum: 20 is above maximum 10",
        ),
        (
            (
                "base_fee: 49.10",
                'base_fee: 49.10\n    minimum_commitment: "100"\n    maximum_commitment: "50"',
            ),
            "plans.yaml: plan growth v2: minimum_commitment: 100 is above maximum_commitment 50",
        ),
        (
            ("base_fee: 49.10", 'base_fee: 49.10\n    maximum_commitment: "lots"'),
            "plans.yaml: plan growth v2: maximum_commitment: 'lots' is not a decimal",
        ),
    ],
)
def test_commitments_are_refused_when_negative_or_crossed(tmp_path, change, message):
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, PLAN.replace(*change))
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("base_fee: 49.10", 'base_fee: 49.10\n    tax_rate: "1"'),
            "plans.yaml: plan growth v2: tax_rate: 1 is not below 1 (a fraction: 0.20 is 20 %)",
        ),
        (
            ('unit_price: "0.002"', 'unit_price: "0.002"\n        tax_rate: "-0.2"'),
            "plans.yaml: plan growth v2: charges[0].tax_rate: must be at least 0, got -0.2",
        ),
        (
            ("base_fee: 49.10", 'base_fee: 49.10\n    tax_rate: "20%"'),
            "plans.yaml: plan growth v2: tax_rate: '20%' is not a decimal",
        ),
    ],
)
def test_a_tax_rate_outside_zero_to_one_is_refused(tmp_path, change, message):
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, PLAN.replace(*change))
    assert str(err.value).startswith(message)


def test_a_plans_and_a_charges_tax_rate_are_read(tmp_path):
    text = PLAN.replace(
        'unit_price: "0.002"', 'unit_price: "0.002"\n        tax_rate: "0"'
    ).replace("base_fee: 49.10", 'base_fee: 49.10\n    tax_rate: "0.068254"')
    plan = book_from(tmp_path, text).plans[0]
    assert (plan.tax_rate, plan.charges[0].tax_rate) == (Decimal("0.068254"), 0)


def test_a_charge_minimum_and_maximum_and_a_plan_cap_are_read(tmp_path):
    text = PLAN.replace(
        'unit_price: "0.002"',
        'unit_price: "0.002"\n        minimum: "20.00"\n        maximum: "500"',
    ).replace("base_fee: 49.10", 'base_fee: 49.10\n    maximum_commitment: "1000"')
    plan = book_from(tmp_path, text).plans[0]
    assert (plan.charges[0].minimum, plan.charges[0].maximum) == (Decimal("20.00"), 500)
    assert plan.maximum_commitment == 1000


SIGNED = """
plans:
  - plan_id: archive
    version: 1
    effective_from: 2026-10-01
    currency: USD
    charges:
      - {charge_id: storage, metric: storage_gb, aggregation: weighted_sum, model: per_unit,
         unit_price: "0.10"}
  - plan_id: other
    version: 1
    effective_from: 2026-10-01
    currency: USD
    charges:
      - {charge_id: reading, metric: storage_gb, aggregation: latest, model: per_unit,
         unit_price: "0.01"}
"""


def test_a_weighted_sum_makes_its_metric_signed_in_the_whole_book(tmp_path):
    book = book_from(tmp_path, SIGNED)
    assert book.signed_metrics == {"storage_gb"}
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, SIGNED.replace("aggregation: latest", "aggregation: sum"))
    assert str(err.value) == (
        "plans.yaml: plan other v1: charges[0].aggregation: metric storage_gb is signed "
        "(weighted_sum in plan archive v1); sum cannot price it"
    )
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, SIGNED.replace("weighted_sum,", "weighted_sum, unique_property: id,"))
    assert str(err.value).startswith(
        "plans.yaml: plan archive v1: charges[0].unique_property: does not apply to "
        "aggregation weighted_sum"
    )


def test_recurring_is_read_on_sum_unique_count_and_weighted_sum_only(tmp_path):
    book = book_from(tmp_path, SIGNED.replace("weighted_sum,", "weighted_sum, recurring: true,"))
    assert book.plans[0].charges[0].recurring
    assert book.recurring_metrics == {"storage_gb"}
    assert not book.plans[1].charges[0].recurring
    with pytest.raises(PriceBookError) as err:
        book_from(
            tmp_path,
            SIGNED.replace("aggregation: latest,", "aggregation: latest, recurring: true,"),
        )
    assert str(err.value) == (
        "plans.yaml: plan other v1: charges[0].recurring: does not apply to aggregation latest "
        "(only sum, unique_count, weighted_sum carry over from earlier periods)"
    )
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, SIGNED.replace("weighted_sum,", "weighted_sum, recurring: yes please,"))
    assert str(err.value).startswith(
        "plans.yaml: plan archive v1: charges[0].recurring: must be true or false, got 'yes please'"
    )


BUCKETED = """
plans:
  - plan_id: gpu
    version: 1
    effective_from: 2026-10-01
    currency: USD
    charges:
      - {charge_id: gpus, metric: gpus_in_use, aggregation: max, bucket: day, model: graduated,
         tiers: [{up_to: 10, unit_price: "0.10"}, {up_to: null, unit_price: "0.02"}]}
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("bucket: week", "bucket: must be hour or day (UTC), got 'week'"),
        ("aggregation: count", "bucket: does not apply to aggregation count (only max and sum)"),
        ("aggregation: sum, recurring: true", "bucket: does not apply to a recurring charge"),
    ],
)
def test_a_bucket_is_refused_where_it_does_not_belong(tmp_path, change, message):
    text = (
        BUCKETED.replace("bucket: day", change)
        if change.startswith("bucket")
        else (BUCKETED.replace("aggregation: max", change))
    )
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, text)
    assert str(err.value) == f"plans.yaml: plan gpu v1: charges[0].{message}"


def test_a_bucket_is_read_and_percentage_models_refuse_it(tmp_path):
    book = book_from(tmp_path, BUCKETED)
    assert book.plans[0].charges[0].bucket == "day" and not book.hourly
    assert book_from(tmp_path, BUCKETED.replace("bucket: day", "bucket: hour")).hourly
    percent = (
        BUCKETED.replace("model: graduated", "model: graduated_percentage")
        .replace('unit_price: "0.10"', 'rate: "0.01"')
        .replace('unit_price: "0.02"', 'rate: "0.02"')
    )
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, percent)
    assert str(err.value) == (
        "plans.yaml: plan gpu v1: charges[0].bucket: does not apply to model graduated_percentage"
    )


PERCENT = """
plans:
  - plan_id: cards
    version: 1
    effective_from: 2026-10-01
    currency: USD
    charges:
      - {charge_id: card_fees, metric: payment_amount, model: percentage, rate: "0.013",
         fixed_fee: "2.00", free_events: 3, free_amount: "250", per_event_min: "1.75",
         per_event_max: "12.00"}
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("free_events: 3", "free_events: 0"),
            "free_events: must be a whole number of at least 1, got 0",
        ),
        (
            ("free_events: 3", "free_events: 2.5"),
            "free_events: must be a whole number of at least 1, got 2.5",
        ),
        (('free_amount: "250"', 'free_amount: "0"'), "free_amount: must be greater than 0, got 0"),
        (
            ('per_event_min: "1.75"', 'per_event_min: "-1"'),
            "per_event_min: must be at least 0, got -1",
        ),
        (
            ('per_event_max: "12.00"', 'per_event_max: "1.00"'),
            "per_event_min: 1.75 is above per_event_max 1.00",
        ),
        (
            (
                'model: percentage, rate: "0.013",\n         fixed_fee: "2.00",',
                'model: per_unit, unit_price: "0.01",',
            ),
            "free_amount: does not apply to model per_unit",
        ),
    ],
)
def test_percentage_allowances_and_bounds_are_refused_out_of_range(tmp_path, change, message):
    assert change[0] in PERCENT
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, PERCENT.replace(*change))
    assert str(err.value) == f"plans.yaml: plan cards v1: charges[0].{message}"


def test_percentage_allowances_and_bounds_are_read(tmp_path):
    [charge] = book_from(tmp_path, PERCENT).plans[0].charges
    assert (charge.free_events, charge.free_amount) == (3, 250)
    assert (charge.per_event_min, charge.per_event_max) == (Decimal("1.75"), Decimal(12))
    assert charge.priced_by_event


def test_a_plans_credit_allocation_is_read_with_its_defaults(tmp_path):
    text = PLAN.replace(
        "base_fee: 49.10",
        'base_fee: 49.10\n    credit_rate: "0.01"\n    credit_allocation: {credits: "10000"}',
    )
    allocation = book_from(tmp_path, text).plans[0].credit_allocation
    assert (allocation.credits, allocation.rollover_cap, allocation.priority) == (
        Decimal(10000),
        0,
        50,
    )


@pytest.mark.parametrize(
    ("allocation", "message"),
    [
        (
            '{credits: "100"}',
            "plans.yaml: plan growth v2: credit_allocation: needs the plan's credit_rate",
        ),
        (
            '{credits: "-1"}\n    credit_rate: "0.01"',
            "plans.yaml: plan growth v2: credit_allocation.credits: must be at least 0, got -1",
        ),
        (
            '{credits: "1", rollover: "1"}\n    credit_rate: "0.01"',
            "plans.yaml: plan growth v2: credit_allocation.rollover: unknown field",
        ),
    ],
)
def test_a_credit_allocation_that_cannot_hold_is_refused(tmp_path, allocation, message):
    text = PLAN.replace("base_fee: 49.10", f"base_fee: 49.10\n    credit_allocation: {allocation}")
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, text)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            "billing_interval: fortnight",
            "plans.yaml: plan growth v2: billing_interval: 'fortnight' is not one of month, "
            "quarter, year",
        ),
        (
            "billing_anchor: signup",
            "plans.yaml: plan growth v2: billing_anchor: 'signup' is not one of calendar, "
            "subscription",
        ),
        (
            "usage_invoicing: monthly",
            "plans.yaml: plan growth v2: usage_invoicing: monthly needs a billing_interval of "
            "quarter or year",
        ),
        (
            "base_fee_timing: ahead",
            "plans.yaml: plan growth v2: base_fee_timing: 'ahead' is not one of in_arrears, "
            "in_advance",
        ),
    ],
)
def test_a_cadence_that_cannot_hold_is_refused(tmp_path, change, message):
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, PLAN.replace("base_fee: 49.10", f"base_fee: 49.10\n    {change}"))
    assert str(err.value).startswith(message)


def test_quarterly_yearly_and_anniversary_periods_are_read(tmp_path):
    text = PLAN.replace(
        "base_fee: 49.10",
        "base_fee: 49.10\n    billing_interval: year\n    billing_anchor: subscription",
    )
    plans = book_from(tmp_path, text).plans
    assert {(p.billing_interval, p.billing_anchor) for p in plans} == {("year", "subscription")}


def test_the_default_cadence_is_calendar_months_in_arrears(tmp_path):
    plan = book_from(
        tmp_path, PLAN.replace("base_fee: 49.10", "base_fee: 49.10\n    billing_interval: month")
    ).plans[0]
    assert (
        plan.billing_interval,
        plan.billing_anchor,
        plan.base_fee_timing,
        plan.usage_invoicing,
    ) == ("month", "calendar", "in_arrears", "per_period")


def test_a_version_that_moves_a_plans_periods_is_refused(tmp_path):
    """A new version may not change the interval or anchor."""
    later = PLAN.split("plans:\n", 1)[1].replace("version: 2", "version: 3")
    text = PLAN.replace(
        "base_fee: 49.10", "base_fee: 49.10\n    billing_interval: quarter"
    ) + later.replace("base_fee: 49.10", "base_fee: 49.10\n    billing_interval: year")
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, text)
    assert str(err.value) == (
        "plans.yaml: plan growth v3: billing_interval: 'year' differs from v2's 'quarter'; a "
        "running subscription's periods cannot move: publish the new cadence as another plan_id"
    )
    anchored = text.replace("billing_interval: year", "billing_interval: quarter").replace(
        "version: 3\n", "version: 3\n    billing_anchor: subscription\n"
    )
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, anchored)
    assert "billing_anchor: 'subscription' differs from v2's 'calendar'" in str(err.value)
    ahead = text.replace("billing_interval: year", "billing_interval: quarter").replace(
        "version: 3\n", "version: 3\n    base_fee_timing: in_advance\n"
    )
    with pytest.raises(PriceBookError) as err:
        book_from(tmp_path, ahead)
    assert "v3: base_fee_timing: 'in_advance' differs from v2's 'in_arrears'" in str(err.value)


def test_a_base_fee_in_advance_and_usage_invoiced_monthly_are_read(tmp_path):
    text = PLAN.replace(
        "base_fee: 49.10",
        "base_fee: 49.10\n    base_fee_timing: in_advance\n    billing_interval: year\n"
        "    usage_invoicing: monthly",
    )
    plans = book_from(tmp_path, text).plans
    assert {(p.base_fee_timing, p.usage_invoicing) for p in plans} == {("in_advance", "monthly")}
