"""What a quantity is counted in, as documents and pages say it.

A charge may name its unit in the price book (`unit: GB-months`). Without one, the unit follows
what the charge measures: a `count`, `sum`, `max` or `latest` charge counts its metric
(`api_calls` -> "API calls"), a `unique_count` charge counts distinct values of its
`unique_property` (`user_id` -> "distinct users"), a `weighted_sum` charge counts its metric held
over months (`storage_gb` -> "storage GB-months"), and the quantity of a `percentage` or
`graduated_percentage` charge is money in the plan's currency.
"""

from __future__ import annotations

# The models whose quantity is money (a percentage of amounts).
MONEY_MODELS = ("percentage", "graduated_percentage")
_ACRONYMS = {"api": "API", "gb": "GB", "mb": "MB", "tb": "TB", "id": "ID", "sms": "SMS"}


def words(identifier: str) -> str:
    """An identifier as words: `api_calls` -> `API calls`, `storage_gb` -> `storage GB`."""
    return " ".join(
        _ACRONYMS.get(w.lower(), w) for w in identifier.replace("-", "_").split("_") if w
    )


def readable(identifier: str) -> str:
    """An identifier as the start of a sentence: `successful_calls` -> `Successful calls`."""
    text = words(identifier)
    return text[:1].upper() + text[1:]


def charge_unit(
    *,
    unit: str | None,
    model: str,
    aggregation: str,
    metric: str,
    unique_property: str | None,
    currency: str,
) -> str:
    """The unit of a charge's quantity: the price book's, else the one its measure implies."""
    if unit:
        return unit
    if model in MONEY_MODELS:
        return currency.upper()
    if aggregation == "unique_count" and unique_property:
        return f"distinct {_plural(_without_id(unique_property))}"
    if aggregation == "weighted_sum":  # a level held over time: storage GB -> GB-months
        return f"{words(metric)}-months"
    return words(metric)


def metric_unit(metric: str, *, priced_as_money: bool, currency: str) -> str:
    """The unit of a metric's daily quantity: money in the currency when a percentage charge
    prices it (its events carry amounts), else the metric in words."""
    return currency.upper() if priced_as_money else words(metric)


def _without_id(identifier: str) -> str:
    parts = [w for w in identifier.replace("-", "_").split("_") if w]
    if len(parts) > 1 and parts[-1].lower() == "id":
        parts = parts[:-1]
    return words("_".join(parts))


def _plural(noun: str) -> str:
    """English plural of the last word, for the common cases (`user` -> `users`, `country` ->
    `countries`, `address` -> `addresses`); a word already plural stays."""
    head, _, last = noun.rpartition(" ")
    if last.endswith(("s", "x", "z", "ch", "sh")):
        plural = last if last.endswith("s") and not last.endswith("ss") else last + "es"
    elif last.endswith("y") and last[-2:-1] not in ("a", "e", "i", "o", "u"):
        plural = last[:-1] + "ies"
    else:
        plural = last + "s"
    return f"{head} {plural}" if head else plural
