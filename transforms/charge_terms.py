"""What one charge of the price book says, read field by field and refused with the field
named: its measure (metric, filter, aggregation, recurring, bucket), its price (a model and that
model's fields, tiers, percentage allowances and bounds), its groups and their prices, and its
commitments."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from transforms.book_fields import (
    Where,
    no_unknown_keys,
    read_decimal,
    read_tax_rate,
    read_text,
    take,
)
from transforms.numbers import FEE, INT32_MAX, PRICE, QUANTITY
from transforms.price_terms import Charge, GroupPrice, Tier

MODELS = ("per_unit", "graduated", "volume", "package", "percentage", "graduated_percentage")
TIERED = ("graduated", "volume", "graduated_percentage")
PACKAGE_ROUNDING = ("up", "down")
AGGREGATIONS = ("sum", "count", "max", "min", "avg", "unique_count", "latest", "weighted_sum")
# What may price a signed metric (one a weighted_sum charge prices: its quantities are changes
# of a level, negative ones included).
SIGNED_AGGREGATIONS = ("weighted_sum", "latest")
# What may be recurring: the aggregations whose units over all earlier periods mean something
# (a running total, the ids still added, a level carried over).
RECURRING_AGGREGATIONS = ("sum", "unique_count", "weighted_sum")
BUCKETS = ("hour", "day")  # UTC
BUCKET_AGGREGATIONS = ("max", "sum")
PERCENTAGE_MODELS = ("percentage", "graduated_percentage")
MAX_GROUP_BY = 3
# What a group price resets: it holds a whole price, nothing of the charge's is inherited.
PRICE_DEFAULTS = {
    "unit_price": None,
    "free_units": Decimal(0),
    "tiers": (),
    "package_size": None,
    "package_price": None,
    "rate": None,
    "fixed_fee": Decimal(0),
    "free_events": None,
    "free_amount": None,
    "per_event_min": None,
    "per_event_max": None,
    "rounding": "up",
}
SUCCESS_STATUS = (200, 299)


_CHARGE_KEYS = {
    "charge_id",
    "metric",
    "aggregation",
    "unique_property",
    "recurring",
    "bucket",
    "group_by",
    "group_prices",
    "filter",
    "model",
    "unit_price",
    "free_units",
    "tiers",
    "package_size",
    "package_price",
    "rate",
    "fixed_fee",
    "rounding",
    "free_events",
    "free_amount",
    "per_event_min",
    "per_event_max",
    "minimum",
    "maximum",
    "description",
    "unit",
    "tax_rate",
}
_MODEL_FIELDS = {
    "per_unit": {"unit_price", "free_units"},
    "graduated": {"tiers"},
    "volume": {"tiers"},
    "graduated_percentage": {"tiers"},
    "package": {"package_size", "package_price", "free_units", "rounding"},
    "percentage": {
        "rate",
        "fixed_fee",
        "free_events",
        "free_amount",
        "per_event_min",
        "per_event_max",
    },
}
# What a tier may hold under each tiered model: a price per unit or per package (graduated and
# volume), a rate (graduated_percentage); every tier may add a flat fee.
_TIER_FIELDS = {
    "graduated": {"up_to", "unit_price", "package_size", "package_price", "flat_fee"},
    "volume": {"up_to", "unit_price", "package_size", "package_price", "flat_fee"},
    "graduated_percentage": {"up_to", "rate", "flat_fee"},
}


def _parse_status(value, where: Where) -> tuple[tuple[int, int], ...]:
    if value == "success":
        return (SUCCESS_STATUS,)
    codes = value if isinstance(value, list) else [value]
    ranges = []
    for i, code in enumerate(codes):
        if code == "success":
            ranges.append(SUCCESS_STATUS)
        elif isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
            ranges.append((code, code))
        else:
            raise where.at(i).error(f"{code!r} is not 'success' or an HTTP status code")
    return tuple(sorted(set(ranges)))


def _parse_filter(raw, where: Where):
    if not isinstance(raw, dict):
        raise where.error("must be a mapping with 'status' and/or 'properties'")
    no_unknown_keys(raw, {"status", "properties"}, where)
    status = _parse_status(raw["status"], where.at("status")) if "status" in raw else ()
    props = []
    raw_props = raw.get("properties") or {}
    if not isinstance(raw_props, dict):
        raise where.at("properties").error("must be a mapping of property -> value(s)")
    for key, values in sorted(raw_props.items()):
        vals = values if isinstance(values, list) else [values]
        if not vals:
            raise where.at("properties").at(str(key)).error("needs at least one value")
        props.append((str(key), tuple(sorted(str(v) for v in vals))))
    return status, tuple(props)


def _parse_tiers(raw, where: Where, model: str) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not raw:
        raise where.error("must be a non-empty list of tiers")
    allowed = _TIER_FIELDS[model]
    every_field = set().union(*_TIER_FIELDS.values())
    tiers: list[Tier] = []
    previous: Decimal | None = None
    for i, t in enumerate(raw):
        w = where.at(i)
        if not isinstance(t, dict):
            raise w.error(f"must be a mapping with {', '.join(sorted(allowed))}")
        misplaced = sorted((set(t) & every_field) - allowed)
        if misplaced:
            raise w.at(misplaced[0]).error(f"does not apply to the tiers of model {model}")
        no_unknown_keys(t, allowed, w)
        if "up_to" not in t:
            raise w.at("up_to").error("is required (null means no upper bound)")
        up_to = (
            None
            if t["up_to"] is None
            else read_decimal(t["up_to"], w.at("up_to"), positive=True, kind=QUANTITY)
        )
        last = i == len(raw) - 1
        if up_to is None and not last:
            raise w.at("up_to").error("only the last tier may be unbounded (null)")
        if up_to is not None and last:
            raise w.at("up_to").error("the last tier must be unbounded (up_to: null)")
        if up_to is not None and previous is not None and up_to <= previous:
            raise w.at("up_to").error(f"tiers out of order: {up_to} is not above {previous}")
        tiers.append(Tier(up_to=up_to, **_tier_price(t, w, model)))
        previous = up_to
    return tuple(tiers)


def _tier_price(t: dict, w: Where, model: str) -> dict:
    """A tier's price: a rate (graduated_percentage), or a unit price or a package pair."""
    flat_fee = read_decimal(t.get("flat_fee", 0), w.at("flat_fee"), kind=FEE)
    if model == "graduated_percentage":
        return {
            "rate": read_decimal(take(t, "rate", w), w.at("rate"), kind=PRICE),
            "flat_fee": flat_fee,
        }
    packaged = [k for k in ("package_size", "package_price") if k in t]
    if packaged and "unit_price" in t:
        raise w.at(packaged[0]).error(
            "a tier has unit_price or package_size/package_price, not both"
        )
    if len(packaged) == 1:
        other = ({"package_size", "package_price"} - set(packaged)).pop()
        raise w.at(other).error(f"is required with {packaged[0]} (a tier priced in packages)")
    if packaged:
        return {
            "package_size": read_decimal(
                t["package_size"], w.at("package_size"), positive=True, kind=QUANTITY
            ),
            "package_price": read_decimal(t["package_price"], w.at("package_price"), kind=FEE),
            "flat_fee": flat_fee,
        }
    return {
        "unit_price": read_decimal(take(t, "unit_price", w), w.at("unit_price"), kind=PRICE),
        "flat_fee": flat_fee,
    }


def _bucket(raw: dict, where: Where, aggregation: str, recurring: bool) -> str | None:
    """A charge's bucket (hour or day): max or sum per bucket, each priced on its own."""
    bucket = raw.get("bucket")
    if bucket is None:
        return None
    w = where.at("bucket")
    if bucket not in BUCKETS:
        raise w.error(f"must be hour or day (UTC), got {bucket!r}")
    if aggregation not in BUCKET_AGGREGATIONS:
        raise w.error(f"does not apply to aggregation {aggregation} (only max and sum)")
    if recurring:
        raise w.error("does not apply to a recurring charge")
    if raw.get("model") in PERCENTAGE_MODELS:
        raise w.error(f"does not apply to model {raw['model']}")
    return bucket


def _aggregation(raw: dict, where: Where) -> tuple[str, str | None, bool]:
    """A charge's aggregation, the property a unique_count counts, and whether it is recurring
    (its scope reaches back over earlier periods)."""
    aggregation = raw.get("aggregation", "sum")
    if aggregation not in AGGREGATIONS:
        raise where.at("aggregation").error(
            f"unknown aggregation {aggregation!r} (one of {', '.join(AGGREGATIONS)})"
        )
    unique_property = raw.get("unique_property")
    if aggregation == "unique_count" and not unique_property:
        raise where.at("unique_property").error("is required for aggregation unique_count")
    if unique_property and aggregation == "weighted_sum":
        raise where.at("unique_property").error("does not apply to aggregation weighted_sum")
    recurring = raw.get("recurring", False)
    if not isinstance(recurring, bool):
        raise where.at("recurring").error(f"must be true or false, got {recurring!r}")
    if recurring and aggregation not in RECURRING_AGGREGATIONS:
        raise where.at("recurring").error(
            f"does not apply to aggregation {aggregation} "
            f"(only {', '.join(RECURRING_AGGREGATIONS)} carry over from earlier periods)"
        )
    return aggregation, unique_property, recurring


def parse_charge(raw, where: Where) -> Charge:
    if not isinstance(raw, dict):
        raise where.error("must be a mapping")
    no_unknown_keys(raw, _CHARGE_KEYS, where)
    model = take(raw, "model", where)
    if model not in MODELS:
        raise where.at("model").error(f"unknown model {model!r} (one of {', '.join(MODELS)})")
    aggregation, unique_property, recurring = _aggregation(raw, where)
    bucket = _bucket(raw, where, aggregation, recurring)
    status, props = (
        _parse_filter(raw["filter"], where.at("filter")) if "filter" in raw else ((), ())
    )
    kwargs = _model_terms(raw, where, model)
    group_by, group_prices = _groups(raw, where, model, bucket)
    kwargs["minimum"], kwargs["maximum"] = read_commitments(raw, where, "minimum", "maximum")
    charge = Charge(
        charge_id=str(take(raw, "charge_id", where)),
        metric=str(take(raw, "metric", where)),
        aggregation=aggregation,
        model=model,
        unique_property=str(unique_property) if unique_property else None,
        recurring=recurring,
        bucket=bucket,
        group_by=group_by,
        group_prices=group_prices,
        status_ranges=status,
        property_filters=props,
        description=read_text(raw.get("description"), where.at("description")),
        unit=read_text(raw.get("unit"), where.at("unit"), longest=40),
        tax_rate=read_tax_rate(raw, where),
        **kwargs,
    )
    return replace(
        charge,
        group_prices=tuple(
            GroupPrice(
                match,
                replace(
                    charge,
                    model=m,
                    minimum=None,
                    maximum=None,
                    group_prices=(),
                    **{**PRICE_DEFAULTS, **terms},
                ),
            )
            for match, m, terms in group_prices
        ),
    )


def _groups(raw: dict, where: Where, model: str, bucket: str | None) -> tuple[tuple, list]:
    """`group_by` (1 to 3 properties) and `group_prices` (match, model, that model's fields),
    as (group_by, [(match, model, terms)])."""
    if raw.get("group_by") is None:
        if raw.get("group_prices") is not None:
            raise where.at("group_prices").error(
                "needs group_by (the properties that split the charge into groups)"
            )
        return (), []
    group_by = _group_by(raw["group_by"], where.at("group_by"))
    entries = raw.get("group_prices") or []
    if not isinstance(entries, list):
        raise where.at("group_prices").error("must be a list of group prices")
    parsed = []
    for i, entry in enumerate(entries):
        we = where.at("group_prices").at(i)
        if not isinstance(entry, dict):
            raise we.error("must be a mapping with match and a price")
        m = entry.get("model", model)
        if m not in MODELS:
            raise we.at("model").error(f"unknown model {m!r} (one of {', '.join(MODELS)})")
        if bucket and m in PERCENTAGE_MODELS:
            raise we.at("model").error(f"{m} cannot price a bucketed charge")
        no_unknown_keys(entry, {"match", "model"} | set().union(*_MODEL_FIELDS.values()), we)
        match = _match(take(entry, "match", we), we.at("match"), group_by)
        parsed.append((match, m, _model_terms(entry, we, m)))
    _exclusive([match for match, _, _ in parsed], where.at("group_prices"))
    return group_by, parsed


def _group_by(group_by, where: Where) -> tuple[str, ...]:
    if (
        not isinstance(group_by, list)
        or not group_by
        or not all(isinstance(k, str) and k for k in group_by)
    ):
        raise where.error(f"must be a list of 1 to {MAX_GROUP_BY} property names, got {group_by!r}")
    if len(group_by) > MAX_GROUP_BY:
        raise where.error(f"at most {MAX_GROUP_BY} properties, got {len(group_by)}")
    if len(set(group_by)) < len(group_by):
        raise where.error("names a property twice")
    return tuple(group_by)


def _exclusive(matches: list, where: Where) -> None:
    """Refuses two group prices that could match one group (for each property both constrain,
    their values meet): the first would win without a word."""
    for j, b in enumerate(matches):
        for i, a in enumerate(matches[:j]):
            va, vb = dict(a), dict(b)
            if all(set(va[k]) & set(vb[k]) for k in set(va) & set(vb)):
                raise (
                    where.at(j)
                    .at("match")
                    .error(
                        f"can match the same groups as group_prices[{i}]: make the entries exclusive"
                    )
                )


def _match(raw, where: Where, group_by: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A group price's match: each property (one of group_by) to a value or a list of them."""
    if not isinstance(raw, dict) or not raw:
        raise where.error("must map properties of group_by to their values")
    match = []
    for key, value in raw.items():
        if key not in group_by:
            raise where.at(str(key)).error(
                f"is not in group_by ({', '.join(group_by)}): no group has it"
            )
        values = value if isinstance(value, list) else [value]
        if not values or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in values
        ):
            raise where.at(str(key)).error("must be a value or a list of values")
        match.append((str(key), tuple(str(v) for v in values)))
    return tuple(match)


def _model_terms(raw: dict, where: Where, model: str) -> dict:
    """The fields of a pricing model (refused when they belong to another model)."""
    misplaced = sorted((set(raw) & set().union(*_MODEL_FIELDS.values())) - _MODEL_FIELDS[model])
    if misplaced:
        raise where.at(misplaced[0]).error(f"does not apply to model {model}")
    kwargs: dict = {}
    if model == "per_unit":
        kwargs["unit_price"] = read_decimal(
            take(raw, "unit_price", where), where.at("unit_price"), kind=PRICE
        )
        kwargs["free_units"] = read_decimal(
            raw.get("free_units", 0), where.at("free_units"), kind=QUANTITY
        )
    elif model in TIERED:
        kwargs["tiers"] = _parse_tiers(take(raw, "tiers", where), where.at("tiers"), model)
    elif model == "package":
        kwargs["package_size"] = read_decimal(
            take(raw, "package_size", where),
            where.at("package_size"),
            positive=True,
            kind=QUANTITY,
        )
        kwargs["package_price"] = read_decimal(
            take(raw, "package_price", where), where.at("package_price"), kind=FEE
        )
        kwargs["free_units"] = read_decimal(
            raw.get("free_units", 0), where.at("free_units"), kind=QUANTITY
        )
        kwargs["rounding"] = raw.get("rounding", "up")
        if kwargs["rounding"] not in PACKAGE_ROUNDING:
            raise where.at("rounding").error(
                f"must be up or down (a part package billed whole, or not at all), "
                f"got {kwargs['rounding']!r}"
            )
    else:
        kwargs.update(_percentage_terms(raw, where))
    return kwargs


def _percentage_terms(raw: dict, where: Where) -> dict:
    """The percentage model: a rate and a fixed fee per paying event; optionally a free
    allowance (the first `free_events` events, the first `free_amount` of summed amount,
    whichever ends first) and bounds on what each paying event bills."""
    terms = {
        "rate": read_decimal(take(raw, "rate", where), where.at("rate"), kind=PRICE),
        "fixed_fee": read_decimal(raw.get("fixed_fee", 0), where.at("fixed_fee"), kind=FEE),
    }
    free_events = raw.get("free_events")
    if free_events is not None and (
        not isinstance(free_events, int)
        or isinstance(free_events, bool)
        or not 1 <= free_events <= INT32_MAX
    ):
        raise where.at("free_events").error(
            f"must be a whole number of at least 1, got {free_events}"
        )
    terms["free_events"] = free_events
    if raw.get("free_amount") is not None:
        terms["free_amount"] = read_decimal(
            raw["free_amount"], where.at("free_amount"), kind=QUANTITY, positive=True
        )
    terms["per_event_min"], terms["per_event_max"] = read_commitments(
        raw, where, "per_event_min", "per_event_max"
    )
    return terms


def read_commitments(
    raw: dict, where: Where, low: str, high: str
) -> tuple[Decimal | None, Decimal | None]:
    """A minimum and a maximum spend (money per period, optional); the minimum may not be
    above the maximum."""
    minimum, maximum = (
        None if raw.get(key) is None else read_decimal(raw[key], where.at(key), kind=FEE)
        for key in (low, high)
    )
    if minimum is not None and maximum is not None and minimum > maximum:
        raise where.at(low).error(f"{minimum} is above {high} {maximum}")
    return minimum, maximum
