"""Automatic top-ups (`credit_topups.csv`): rules that buy or give credits when a customer's
balance falls to a threshold, decided at close while credits are applied, as if the balance
had been watched in real time. transforms/credits.py applies them.

- A rule applies to a billing period whose last day is after `starts_on` (none: from the
  start) and on or before `ends_on` (none: for ever). A customer has at most one rule in force
  on a day (reference validation refuses overlapping rules).
- The balance is the remaining credits of the customer's grants that may pay the period.
  Whenever it is at or below `threshold_credits`, at the start of applying credits to an
  invoice or after a draw, and fewer than `max_per_period` top-ups of the rule were made in the
  period, a top-up grant `<topup_id>@<period_start>#<n>` is made: `topup_credits`, or
  `target_credits` - balance, of the rule's kind and priority, granted on the period's last
  day, never expiring, bought for round(credits x price_per_credit) when purchased (0 when
  promotional). It joins the burn order at once.
- While a top-up can still be made, a draw stops where the balance reaches the threshold
  (the money rounded up to minor units, so the balance is then at or below it): the top-up
  comes between draws, as it would in real time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from transforms.grants import Grant
from transforms.money import round_money

ZERO = Decimal(0)
DEFAULT_KIND = "purchased"
DEFAULT_PRIORITY = 50
DEFAULT_MAX_PER_PERIOD = 1
MAX_PER_PERIOD = 100


@dataclass(frozen=True)
class TopUpRule:
    topup_id: str
    customer_id: str
    threshold_credits: Decimal
    topup_credits: Decimal | None = None  # a fixed amount, or
    target_credits: Decimal | None = None  # top up to this balance
    price_per_credit: Decimal = ZERO
    kind: str = DEFAULT_KIND
    priority: int = DEFAULT_PRIORITY
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    max_per_period: int = DEFAULT_MAX_PER_PERIOD

    def applies(self, period_end: dt.date) -> bool:
        """Whether the rule is in force for the period ending `period_end` (exclusive)."""
        last_day = period_end - dt.timedelta(days=1)
        return (self.starts_on is None or last_day > self.starts_on) and (
            self.ends_on is None or last_day <= self.ends_on
        )

    def credits_at(self, balance: Decimal) -> Decimal:
        """The credits of a top-up made when the customer's balance is `balance`."""
        if self.topup_credits is not None:
            return self.topup_credits
        return self.target_credits - balance

    def top_up(
        self, period_start: dt.date, period_end: dt.date, n: int, balance: Decimal, currency: str
    ) -> TopUp:
        """The rule's `n`-th top-up (from 1) of the period, made at `balance`."""
        credits = self.credits_at(balance)
        paid = self.kind == "purchased"
        return TopUp(
            Grant(
                f"{self.topup_id}@{period_start.isoformat()}#{n}",
                self.customer_id,
                period_end - dt.timedelta(days=1),
                credits,
                self.kind,
                round_money(credits * self.price_per_credit, currency) if paid else ZERO,
                priority=self.priority,
            ),
            self.topup_id,
            period_start,
            currency,
        )


@dataclass(frozen=True)
class TopUp:
    """A top-up close made: its grant (granted on the period's last day, `created_on`)."""

    grant: Grant
    topup_id: str
    period_start: dt.date
    currency: str

    @property
    def created_on(self) -> dt.date:
        return self.grant.granted_at


def rule_in_force(
    rules: list[TopUpRule], customer_id: str, period_end: dt.date
) -> TopUpRule | None:
    """The customer's rule in force for the period ending `period_end`, if any."""
    return next((r for r in rules if r.customer_id == customer_id and r.applies(period_end)), None)
