"""What an invoice line's quantity counts, when the price book does not say."""

import pytest

from transforms.units import charge_unit, metric_unit, readable


@pytest.mark.parametrize(
    ("aggregation", "model", "metric", "unique_property", "unit"),
    [
        ("count", "per_unit", "api_calls", None, "API calls"),
        ("sum", "per_unit", "tokens", None, "tokens"),
        ("max", "per_unit", "storage_gb", None, "storage GB"),
        ("latest", "graduated", "seats", None, "seats"),
        ("unique_count", "per_unit", "logins", "user_id", "distinct users"),
        ("unique_count", "package", "requests", "country", "distinct countries"),
        ("unique_count", "per_unit", "sends", "email_address", "distinct email addresses"),
        ("sum", "percentage", "payments", None, "EUR"),  # the quantity is money
    ],
)
def test_the_unit_follows_what_the_charge_measures(
    aggregation, model, metric, unique_property, unit
):
    assert (
        charge_unit(
            unit=None,
            model=model,
            aggregation=aggregation,
            metric=metric,
            unique_property=unique_property,
            currency="eur",
        )
        == unit
    )


def test_the_price_books_unit_wins():
    assert (
        charge_unit(
            unit="GB-months",
            model="per_unit",
            aggregation="max",
            metric="storage_gb",
            unique_property=None,
            currency="USD",
        )
        == "GB-months"
    )


def test_a_metric_priced_as_a_percentage_is_money():
    assert metric_unit("payments", priced_as_money=True, currency="usd") == "USD"
    assert metric_unit("api_calls", priced_as_money=False, currency="USD") == "API calls"
    assert readable("successful_calls") == "Successful calls"
