"""The price book: pricing as code.

YAML files under `pricing/` are merged, validated as a whole, and refused with an error naming
the file, plan and field before any data is touched. Numbers are read exactly: the YAML loader
builds Decimals from the literal text, so `base_fee: 49.10` never passes through a float. What
a charge says is read in transforms.charge_terms, the fields themselves in
transforms.book_fields.
"""

from __future__ import annotations

from collections.abc import Iterable

import yaml

from transforms.book_fields import (
    PriceBookError,
    Where,
    no_unknown_keys,
    read_date,
    read_decimal,
    read_tax_rate,
    read_text,
    take,
)
from transforms.charge_terms import SIGNED_AGGREGATIONS, parse_charge, read_commitments
from transforms.coupons import check_coupons_apart, parse_coupons
from transforms.exact_yaml import ExactLoader
from transforms.money import is_currency
from transforms.numbers import FEE, INT32_MAX, PRICE, QUANTITY
from transforms.price_terms import Charge, CreditAllocation, Plan, PriceBook, Tier

__all__ = ["Charge", "Plan", "PriceBook", "PriceBookError", "Tier", "parse_price_book"]

# A price book is a few pages of YAML; anything far larger is a mistake or an attack.
MAX_FILE_BYTES = 1 << 20


# A plan's billing cadence: each field's values, the default first.
CADENCE_FIELDS = {
    "billing_interval": ("month", "quarter", "year"),
    "billing_anchor": ("calendar", "subscription"),
    "base_fee_timing": ("in_arrears", "in_advance"),
    "usage_invoicing": ("per_period", "monthly"),
}

_PLAN_KEYS = {
    "plan_id",
    "version",
    "effective_from",
    "currency",
    "base_fee",
    "minimum_commitment",
    "maximum_commitment",
    "credit_rate",
    "credit_allocation",
    "tax_rate",
    "charges",
    "name",
    "description",
    *CADENCE_FIELDS,
}


def filters_overlap(a: Charge, b: Charge) -> bool:
    """True when some event could match both charges' filters."""
    if a.status_ranges and b.status_ranges:
        statuses_meet = any(
            lo1 <= hi2 and lo2 <= hi1
            for lo1, hi1 in a.status_ranges
            for lo2, hi2 in b.status_ranges
        )
        if not statuses_meet:
            return False
    b_props = dict(b.property_filters)
    for key, values in a.property_filters:
        if key in b_props and not set(values) & set(b_props[key]):
            return False
    return True


def _check_charges_apart(charges: tuple[Charge, ...], where: Where) -> None:
    """Charge ids are unique in a plan; charges on one metric have disjoint filters."""
    seen: dict[str, int] = {}
    for i, c in enumerate(charges):
        if c.charge_id in seen:
            raise where.at(i).at("charge_id").error(f"duplicate charge_id {c.charge_id!r}")
        seen[c.charge_id] = i
        for j, other in enumerate(charges[:i]):
            if other.metric == c.metric and filters_overlap(other, c):
                raise (
                    where.at(i)
                    .at("filter")
                    .error(
                        f"overlaps charges[{j}] ({other.charge_id}) on metric {c.metric!r}; "
                        "charges on one metric need disjoint filters"
                    )
                )


def _parse_plan(raw, file: str, index: int) -> Plan:
    where = Where(file, path=f"plans[{index}]")
    if not isinstance(raw, dict):
        raise where.error("must be a mapping")
    plan_id = raw.get("plan_id")
    if not plan_id:
        raise where.at("plan_id").error("is required")
    where = Where(file, str(plan_id))
    no_unknown_keys(raw, _PLAN_KEYS, where)
    version = take(raw, "version", where)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= INT32_MAX:
        raise where.at("version").error(
            f"must be a whole number from 1 to {INT32_MAX:,}, got {version!r}"
        )
    where = Where(file, f"{plan_id} v{version}")
    effective_from = read_date(take(raw, "effective_from", where), where.at("effective_from"))
    currency = str(take(raw, "currency", where)).upper()
    if not is_currency(currency):
        raise where.at("currency").error(f"{currency!r} is not an ISO 4217 currency code")
    charges_raw = raw.get("charges") or []
    if not isinstance(charges_raw, list):
        raise where.at("charges").error("must be a list")
    charges = tuple(parse_charge(c, where.at("charges").at(i)) for i, c in enumerate(charges_raw))
    _check_charges_apart(charges, where.at("charges"))
    minimum, maximum = read_commitments(raw, where, "minimum_commitment", "maximum_commitment")
    credit_rate = raw.get("credit_rate")
    allocation = _credit_allocation(raw.get("credit_allocation"), where.at("credit_allocation"))
    if allocation is not None and credit_rate is None:
        raise where.at("credit_allocation").error(
            "needs the plan's credit_rate: credits are worth nothing without one"
        )
    cadence = _cadence(raw, where)
    return Plan(
        plan_id=str(plan_id),
        version=version,
        effective_from=effective_from,
        currency=currency,
        base_fee=read_decimal(raw.get("base_fee", 0), where.at("base_fee"), kind=FEE),
        minimum_commitment=minimum,
        maximum_commitment=maximum,
        tax_rate=read_tax_rate(raw, where),
        credit_rate=None
        if credit_rate is None
        else read_decimal(credit_rate, where.at("credit_rate"), positive=True, kind=PRICE),
        charges=charges,
        source_file=file,
        name=read_text(raw.get("name"), where.at("name")),
        description=read_text(raw.get("description"), where.at("description")),
        credit_allocation=allocation,
        **cadence,
    )


def _cadence(raw: dict, where: Where) -> dict[str, str]:
    """The plan's billing cadence fields, defaults filled in, checked."""
    cadence = {}
    for field, values in CADENCE_FIELDS.items():
        value = raw.get(field, values[0])
        if value not in values:
            raise where.at(field).error(f"{value!r} is not one of {', '.join(values)}")
        cadence[field] = value
    if cadence["usage_invoicing"] == "monthly" and cadence["billing_interval"] == "month":
        raise where.at("usage_invoicing").error(
            "monthly needs a billing_interval of quarter or year (a monthly plan already "
            "invoices its usage every month)"
        )
    return cadence


_ALLOCATION_KEYS = {"credits", "rollover_cap", "priority"}


def _credit_allocation(raw, where: Where) -> CreditAllocation | None:
    """`credit_allocation: {credits, rollover_cap (default 0), priority (default 50)}`."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise where.error("must be a mapping of credits, rollover_cap and priority")
    no_unknown_keys(raw, _ALLOCATION_KEYS, where)
    priority = raw.get("priority", 50)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise where.at("priority").error(f"must be a whole number, got {priority!r}")
    return CreditAllocation(
        credits=read_decimal(take(raw, "credits", where), where.at("credits"), kind=QUANTITY),
        rollover_cap=read_decimal(
            raw.get("rollover_cap", 0), where.at("rollover_cap"), kind=QUANTITY
        ),
        priority=priority,
    )


def _check_signed_metrics(plans: list[Plan]) -> None:
    """A metric a weighted_sum charge prices is signed in the whole book: only weighted_sum and
    latest may price it elsewhere (a sum or a max of signed changes means nothing)."""
    signer: dict[str, Plan] = {}
    for plan in plans:
        for charge in plan.charges:
            if charge.aggregation == "weighted_sum":
                signer.setdefault(charge.metric, plan)
    for plan in plans:
        for i, charge in enumerate(plan.charges):
            by = signer.get(charge.metric)
            if by is not None and charge.aggregation not in SIGNED_AGGREGATIONS:
                where = Where(plan.source_file, f"{plan.plan_id} v{plan.version}")
                raise (
                    where.at("charges")
                    .at(i)
                    .at("aggregation")
                    .error(
                        f"metric {charge.metric} is signed (weighted_sum in plan {by.plan_id} "
                        f"v{by.version}); {charge.aggregation} cannot price it"
                    )
                )


def _check_cadences_kept(plans: list[Plan]) -> None:
    """Every version of a plan has the first version's cadence: a running subscription's
    periods cannot move (billing_interval, billing_anchor), nor its invoices (usage_invoicing),
    and a fee cannot move from after its period to before it (base_fee_timing: it would be
    billed twice or never)."""
    first: dict[str, Plan] = {}
    for p in sorted(plans, key=lambda p: (p.plan_id, p.version)):
        base = first.setdefault(p.plan_id, p)
        for field in CADENCE_FIELDS:
            if getattr(p, field) != getattr(base, field):
                raise PriceBookError(
                    f"{p.source_file}: plan {p.plan_id} v{p.version}: {field}: "
                    f"{getattr(p, field)!r} differs from v{base.version}'s "
                    f"{getattr(base, field)!r}; a running subscription's periods cannot move: "
                    "publish the new cadence as another plan_id"
                )


def parse_price_book(documents: Iterable[tuple[str, str]]) -> PriceBook:
    """Parse and validate price-book documents (name, YAML text) together, as one price book;
    raise PriceBookError on the first fault, naming the document, plan and field."""
    plans: list[Plan] = []
    raw_coupons: list[tuple[str, object]] = []
    named = 0
    for name, text in sorted(documents):
        named += 1
        if len(text) > MAX_FILE_BYTES:
            raise PriceBookError(f"{name}: larger than {MAX_FILE_BYTES:,} bytes; not a price book")
        try:
            doc = yaml.load(text, Loader=ExactLoader)  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as exc:
            raise PriceBookError(f"{name}: not valid YAML: {exc}") from None
        if doc is None:
            continue
        if not isinstance(doc, dict) or not (
            isinstance(doc.get("plans"), list) or "coupons" in doc
        ):
            raise PriceBookError(f"{name}: must contain a top-level 'plans:' list")
        plans.extend(_parse_plan(p, name, i) for i, p in enumerate(doc.get("plans") or []))
        if "coupons" in doc:
            raw_coupons.append((name, doc["coupons"]))
    if not named:
        raise PriceBookError("no price book: add at least one pricing/*.yaml file")
    seen: dict[tuple[str, int], str] = {}
    for p in plans:
        key = (p.plan_id, p.version)
        if key in seen:
            raise PriceBookError(
                f"{p.source_file}: plan {p.plan_id} v{p.version}: version: "
                f"already defined in {seen[key]}"
            )
        seen[key] = p.source_file
    _check_cadences_kept(plans)
    _check_signed_metrics(plans)
    charge_ids = {c.charge_id for p in plans for c in p.charges}
    coupons = [c for name, raw in raw_coupons for c in parse_coupons(raw, name, charge_ids)]
    check_coupons_apart(coupons)
    # Effective dates may go back in time: a retroactive correction is a new, higher version
    # with an earlier effective_from (the highest version effective at a period's
    # start rates it).
    return PriceBook(tuple(plans), tuple(sorted(coupons, key=lambda c: c.coupon_id)))
