"""The hand-worked world: a price book, customers, grants and events whose invoices were
worked out by hand (the arithmetic is in the comments). Used by the worked-invoice tests and,
with faults injected, by the fault-injection tests."""

from decimal import Decimal as D

import duckdb
import pytest
from worlds import World, tally

from lake.home import Home

PRICE_BOOK = """\
plans:
  - plan_id: unit                   # per_unit with free units, count aggregation
    version: 1
    effective_from: 2026-01-01
    currency: USD
    charges:
      - {charge_id: calls, metric: api_calls, aggregation: count, model: per_unit,
         unit_price: "0.01", free_units: 2}
  - plan_id: unit                   # from October only: September stays on version 1
    version: 2
    effective_from: 2026-10-01
    currency: USD
    charges:
      - {charge_id: calls, metric: api_calls, aggregation: count, model: per_unit,
         unit_price: "0.02", free_units: 2}

  - plan_id: grad                   # superseded before September
    version: 1
    effective_from: 2026-01-01
    currency: USD
    charges:
      - {charge_id: tokens, metric: tokens, model: per_unit, unit_price: "1.00"}
  - plan_id: grad                   # graduated with flat fees, sum of fractional quantities
    version: 2
    effective_from: 2026-09-01
    currency: USD
    charges:
      - charge_id: tokens
        metric: tokens
        aggregation: sum
        model: graduated
        tiers:
          - {up_to: 10, unit_price: "0.10", flat_fee: "1.00"}
          - {up_to: null, unit_price: "0.05", flat_fee: "2.00"}
  - plan_id: grad                   # effective mid-September: first rates October
    version: 3
    effective_from: 2026-09-15
    currency: USD
    charges:
      - charge_id: tokens
        metric: tokens
        aggregation: sum
        model: graduated
        tiers:
          - {up_to: 10, unit_price: "0.20"}
          - {up_to: null, unit_price: "0.10"}

  - plan_id: vol                    # volume on the month's maximum reading
    version: 1
    effective_from: 2026-01-01
    currency: USD
    charges:
      - charge_id: peak
        metric: storage_gb
        aggregation: max
        model: volume
        tiers:
          - {up_to: 100, unit_price: "0.50"}
          - {up_to: null, unit_price: "0.40", flat_fee: "5"}

  - plan_id: pkg                    # packages of distinct users, prorated base fee
    version: 1
    effective_from: 2026-01-01
    currency: USD
    base_fee: "30.00"
    charges:
      - {charge_id: mau, metric: logins, aggregation: unique_count, unique_property: user_id,
         model: package, package_size: 2, package_price: "3.00", free_units: 1}

  - plan_id: pct                    # percentage of settled payments, minimum commitment
    version: 1
    effective_from: 2026-01-01
    currency: USD
    minimum_commitment: "10.00"
    charges:
      - {charge_id: payments, metric: payments, filter: {status: success}, model: percentage,
         rate: "0.029", fixed_fee: "0.30"}

  - plan_id: last_eur               # latest reading, filtered on a property, in euros
    version: 1
    effective_from: 2026-01-01
    currency: EUR
    charges:
      - {charge_id: eu_storage, metric: storage_gb, aggregation: latest,
         filter: {properties: {region: [eu]}}, model: per_unit, unit_price: "0.10"}

  - plan_id: cred                   # takes prepaid credits: 1 credit pays 0.01
    version: 1
    effective_from: 2026-01-01
    currency: USD
    base_fee: "20.00"
    credit_rate: "0.01"
    charges:
      - {charge_id: calls, metric: api_calls, aggregation: count, model: per_unit,
         unit_price: "0.10"}

  - plan_id: breadth                # tiers at a rate, tiers in packages, packages rounded
    version: 1                       # down, avg and min levels
    effective_from: 2026-01-01
    currency: USD
    charges:
      - charge_id: payouts
        metric: payout_amount
        model: graduated_percentage
        tiers:
          - {up_to: 1000, rate: "0.01", flat_fee: "200"}
          - {up_to: 10000, rate: "0.02", flat_fee: "300"}
          - {up_to: null, rate: "0.03", flat_fee: "400"}
      - charge_id: blocks
        metric: blocks
        model: graduated
        tiers:
          - {up_to: 1000, package_size: 100, package_price: "1"}
          - {up_to: 101000, package_size: 1000, package_price: "1"}
          - {up_to: null, package_size: 1000, package_price: "0.50"}
      - charge_id: volume_blocks
        metric: volume_blocks
        model: volume
        tiers:
          - {up_to: 1000, package_size: 100, package_price: "1"}
          - {up_to: 101000, package_size: 1000, package_price: "1"}
          - {up_to: null, package_size: 1000, package_price: "0.50"}
      - {charge_id: seats, metric: seats, model: package, package_size: 100,
         package_price: "2.00", rounding: down}
      - {charge_id: gpu_avg, metric: gpus_in_use, aggregation: avg, model: per_unit,
         unit_price: "30.00"}
      - {charge_id: floor, metric: replicas, aggregation: min, model: per_unit,
         unit_price: "5.00"}
      - {charge_id: storage, metric: attached_gb, aggregation: weighted_sum, model: per_unit,
         unit_price: "0.10"}

  - plan_id: caps                   # a charge's spend cap and minimum, the plan's spend cap
    version: 1
    effective_from: 2026-01-01
    currency: USD
    maximum_commitment: "6.00"
    charges:
      - {charge_id: capped_calls, metric: capped_calls, aggregation: count, model: per_unit,
         unit_price: "1.00", maximum: "5.00"}
      - {charge_id: floor_tokens, metric: floor_tokens, model: per_unit, unit_price: "0.10",
         minimum: "3.00"}

  - plan_id: recur                  # recurring: earlier periods count (seats bought and kept,
    version: 1                       # members until removed, a level carried over)
    effective_from: 2026-01-01
    currency: USD
    charges:
      - {charge_id: seats_held, metric: seat_changes, recurring: true, model: per_unit,
         unit_price: "1.00"}
      - {charge_id: members, metric: member_events, aggregation: unique_count,
         unique_property: user, recurring: true, model: per_unit, unit_price: "3.00"}
      - {charge_id: disk, metric: disk_gb, aggregation: weighted_sum, recurring: true,
         model: per_unit, unit_price: "0.10"}

  - plan_id: buckets                # max or sum per UTC day or hour, each priced on its own
    version: 1
    effective_from: 2026-01-01
    currency: USD
    charges:
      - charge_id: gpu_days
        metric: gpu_count
        aggregation: max
        bucket: day
        model: graduated
        tiers:
          - {up_to: 10, unit_price: "0.10"}
          - {up_to: 20, unit_price: "0.05"}
          - {up_to: null, unit_price: "0.02"}
      - {charge_id: gpu_hours, metric: gpu_hourly, aggregation: max, bucket: hour,
         model: per_unit, unit_price: "0.10"}
      - {charge_id: batch_packs, metric: batch_jobs, bucket: day, model: package,
         package_size: 100, package_price: "5"}

  - plan_id: cards                  # percentage fees event by event (Lago's examples)
    version: 1
    effective_from: 2026-01-01
    currency: USD
    charges:
      - {charge_id: card_fees, metric: card_payments, model: percentage, rate: "0.013",
         fixed_fee: "2.00", free_events: 3, free_amount: "250"}
      - {charge_id: fx_fees, metric: fx_payments, model: percentage, rate: "0.0299",
         free_amount: "30", per_event_min: "1.75", per_event_max: "12.00"}
      - {charge_id: refund_fees, metric: refunds, model: percentage, rate: "0.01",
         fixed_fee: "0.50"}

  - plan_id: dims                   # per-group prices: a line per group, tiers restart
    version: 1
    effective_from: 2026-01-01
    currency: USD
    charges:
      - charge_id: llm_tokens
        metric: llm_tokens
        group_by: [model]
        model: per_unit
        unit_price: "0.000002"
        group_prices:
          - match: {model: large}
            unit_price: "0.00001"
      - charge_id: regional
        metric: regional_units
        group_by: [region]
        model: graduated
        tiers: [{up_to: 10, unit_price: "1.00"}, {up_to: null, unit_price: "2.00"}]

  - plan_id: yen                    # a currency without minor units
    version: 1
    effective_from: 2026-01-01
    currency: JPY
    base_fee: "1000"
    charges:
      - {charge_id: calls, metric: api_calls, aggregation: sum, model: per_unit,
         unit_price: "0.5"}

  - plan_id: taxed                  # the pricing contract's invoice: a coupon, the customer's
    version: 1                       # tax rate, a charge exempt, credits paying tax
    effective_from: 2026-01-01
    currency: USD
    base_fee: "49.00"
    credit_rate: "0.01"
    maximum_commitment: "500"
    charges:
      - {charge_id: tax_calls, metric: tax_calls, model: per_unit, unit_price: "1.00"}
      - {charge_id: tax_gpu, metric: tax_gpu, model: per_unit, unit_price: "1.00",
         minimum: "20.00"}
      - {charge_id: training, metric: training_hours, model: per_unit, unit_price: "1.00",
         tax_rate: "0"}

  - plan_id: quarterly              # calendar quarters in arrears: tiers over the quarter
    version: 1
    effective_from: 2026-01-01
    currency: USD
    billing_interval: quarter
    base_fee: "300.00"
    charges:
      - charge_id: q_calls
        metric: q_calls
        aggregation: count
        model: graduated
        tiers: [{up_to: 2, unit_price: "1.00"}, {up_to: null, unit_price: "0.50"}]

  - plan_id: anniv                  # months from the day the customer subscribed
    version: 1
    effective_from: 2026-01-01
    currency: USD
    billing_anchor: subscription
    base_fee: "30.00"
    charges:
      - {charge_id: a_calls, metric: a_calls, aggregation: count, model: per_unit,
         unit_price: "0.10"}

  - plan_id: quarter_monthly        # calendar quarters, usage invoiced month by month
    version: 1
    effective_from: 2026-01-01
    currency: USD
    billing_interval: quarter
    usage_invoicing: monthly
    base_fee: "90.00"
    charges:
      - charge_id: m_calls
        metric: m_calls
        aggregation: count
        model: graduated
        tiers: [{up_to: 2, unit_price: "1.00"}, {up_to: null, unit_price: "0.50"}]
        minimum: "4.00"             # a month's, as its usage is rated by the month

  - plan_id: ahead                  # calendar months, the base fee paid a month ahead
    name: Ahead
    version: 1
    effective_from: 2026-01-01
    currency: USD
    base_fee_timing: in_advance
    base_fee: "30.00"
    charges:
      - {charge_id: h_calls, metric: h_calls, aggregation: count, model: per_unit,
         unit_price: "0.10"}
"""
# Coupons in a price-book file of their own (pricing/coupons.yaml).
COUPONS = """\
coupons:
  - {coupon_id: launch10, kind: percentage, percent: "0.10", duration_months: 3}
"""
# Who redeemed which coupon (coupon_redemptions.csv).
REDEMPTIONS = [("r_launch", "c_tax", "launch10", "2026-09-03")]

CUSTOMERS = {
    "c_unit": "USD",
    "c_grad": "USD",
    "c_vol": "USD",
    "c_pkg": "USD",
    "c_pct": "USD",
    "c_last": "EUR",
    "c_jpy": "JPY",
    "c_change": "USD",
    "c_cred": "USD",
    "c_breadth": "USD",
    "c_caps": "USD",
    "c_recur": "USD",
    "c_bucket": "USD",
    "c_cards": "USD",
    "c_groups": "USD",
    "c_tax": "USD",
    "c_wallet": "USD",
}
# Customers billed on other cadences (CADENCE_EVENTS): not on September's calendar invoices.
#   c_quarter: quarterly from 10 September: Q3 (1 July - 30 September, 92 days) holds 21 of its
#     days: base fee 300.00 x 21 / 92 = 68.478... -> 68.48; 3 calls through the quarter's
#     tiers: 2 x 1.00 + 0.50 = 2.50. INV-2026-07-c_quarter ends with September: the September
#     close issues it, and its revenue is September's (the days it served).
#   c_anniv: monthly from 15 September: 15 September - 14 October (30 days), base fee 30.00;
#     2 calls in September and one on 2 October (the later run) at 0.10: INV-2026-09-15-c_anniv,
#     a draft of 30.20, then 30.30, that the September close leaves open.
#   c_ahead: monthly with the base fee (30.00) in advance, from 21 September to 11 October:
#     INV-2026-09-c_ahead has September's 10 of 30 days (10.00) and October's whole fee
#     (30.00), issued by the September close; October's draft credits the 21 unused of its
#     31 days: -30.00 x 21 / 31 = -20.3225... -> -20.32 (a negative subtotal: total 0).
#   c_monthly: quarterly with usage invoiced monthly, from 10 September: September is Q3's
#     only month held (21 of its 92 days) and so its first and last invoice: 3 calls through
#     the tiers (2.50), the charge's minimum of the month (4.00 x 21 / 30 = 2.80: a true-up of
#     0.30) and Q3's fee, 90.00 x 21 / 92 = 20.543... -> 20.54: 23.34, issued by the September
#     close. October (the later run: 3 more calls) is Q4's first month: its own tiers again
#     (2.50), its own minimum (true-up 1.50) and no fee yet (in arrears, on December's).
CADENCE_CUSTOMERS = {"c_quarter": "USD", "c_anniv": "USD", "c_ahead": "USD", "c_monthly": "USD"}
# What the billing system billed them (billed_invoices.csv): c_ahead's September, 10.00 for its
# days and 30.00 for October in advance (c_quarter's quarter starts in July, a period the
# billing system billed nothing for: not compared).
CADENCE_BILLED = [
    ("b_c_ahead", "c_ahead", "2026-09-01", "USD", "40.00", "0", "40.00"),
    ("b_c_monthly", "c_monthly", "2026-09-01", "USD", "23.34", "0", "23.34"),
]
# c_quarter's monthly budget (budgets.csv): 40.00 a month is 120.00 a quarter.
BUDGETS = [("c_quarter", "40.00", "50")]
QUARTER_LINES = {("base_fee", None): D("68.48"), ("usage", "q_calls"): D("2.50")}

# The customers' tax rates (customers.csv; empty for the others), and c_tax's billing details.
TAX_RATES = {"c_tax": "0.20"}
BILLING = {"c_tax": ("Rue de la Loi 1\n1000 Bruxelles", "BE0123456789")}
SELLER = """\
legal_name: Worked Example Ltd
address: |
  1 Sample Street
  London EC1A 1AA
tax_id: GB123456789
payment_instructions: Bank transfer to GB00 EXMP 0000 0000 0000 00, quoting the invoice number.
"""

SUBSCRIPTIONS = [
    ("s_unit", "c_unit", "unit", "2026-09-01", ""),
    ("s_grad", "c_grad", "grad", "2026-09-01", ""),
    ("s_vol", "c_vol", "vol", "2026-09-01", ""),
    ("s_pkg", "c_pkg", "pkg", "2026-09-11", ""),  # 20 of September's 30 days
    ("s_pct", "c_pct", "pct", "2026-09-01", ""),
    ("s_last", "c_last", "last_eur", "2026-09-01", ""),
    ("s_jpy", "c_jpy", "yen", "2026-09-01", ""),
    ("s_change1", "c_change", "unit", "2026-09-01", "2026-09-16"),  # 15 days on unit
    ("s_change2", "c_change", "pkg", "2026-09-16", ""),  # then 15 days on pkg
    ("s_cred", "c_cred", "cred", "2026-09-01", ""),
    ("s_breadth", "c_breadth", "breadth", "2026-09-01", ""),
    ("s_caps", "c_caps", "caps", "2026-09-01", ""),
    ("s_recur", "c_recur", "recur", "2026-09-01", ""),
    ("s_bucket", "c_bucket", "buckets", "2026-09-01", ""),
    ("s_cards", "c_cards", "cards", "2026-09-01", ""),
    ("s_groups", "c_groups", "dims", "2026-09-01", ""),
    ("s_tax", "c_tax", "taxed", "2026-09-01", ""),
    ("s_wallet", "c_wallet", "cred", "2026-09-01", ""),
    ("s_quarter", "c_quarter", "quarterly", "2026-09-10", ""),
    ("s_anniv", "c_anniv", "anniv", "2026-09-15", ""),
    ("s_ahead", "c_ahead", "ahead", "2026-09-21", "2026-10-11"),
    ("s_monthly", "c_monthly", "quarter_monthly", "2026-09-10", ""),
]

# (grant_id, customer, granted_at, credits, kind, purchase_amount, expires_at, priority[,
#  applies_to, recurrence, recurrence_ends_at, rollover_cap])
GRANTS = [
    # c_unit's plan has no credit_rate: its grants are never drawn.
    ("cu_g", "c_unit", "2026-08-01", "1000", "purchased", "8.00", "", "50"),
    # A monthly grant of 1,000 kept up to 200: September's instance is never drawn, so when
    # September closes 200 roll into October's (1,200) and 800 expire, dated 1 October.
    (
        "cu_monthly",
        "c_unit",
        "2026-09-01",
        "1000",
        "promotional",
        "0",
        "",
        "",
        "",
        "monthly",
        "",
        "200",
    ),
    # c_cred, September (20.20 due), burn order of the grants live at close (1 October):
    #   cr_vip    priority 10                      200 credits =  2.00, emptied
    #   cr_promo  priority 50, expires 1 October  1000 credits = 10.00, emptied (promotional)
    #   cr_buy    priority 50, never expires       820 credits =  8.20 (of 3000)
    #   not live: cr_old (expired 30 September), cr_late (granted 1 October)
    # credits_applied 20.20, total 0. Revenue: cr_vip 2.00 (all it cost); cr_buy at
    # 24.00 / 3000 = 0.008 per credit: 820 * 0.008 = 6.56. Promotional discount 10.00.
    ("cr_buy", "c_cred", "2026-08-01", "3000", "purchased", "24.00", "", ""),
    # c_tax, September: 296.10 + tax 57.42 = 353.52 due; ct_promo's 30,000 credits pay 300.00,
    # the subtotal first and 2.90 of the tax: total 54.52.
    ("ct_promo", "c_tax", "2026-08-01", "30000", "promotional", "0", "", ""),
    # c_wallet, September (base fee 20.00 due), and its top-up rule (TOPUPS): cw_buy's 2,500
    # credits draw 15.00 down to the threshold of 1,000; the top-up cw_auto@2026-09-01#1 (2,000
    # credits, bought for 20.00) comes, then cw_buy's 5.00 more: 20.00 applied, total 0.
    ("cw_buy", "c_wallet", "2026-08-01", "2500", "purchased", "25.00", "", ""),
    ("cr_old", "c_cred", "2026-08-01", "400", "promotional", "0", "2026-09-30", "50"),
    ("cr_vip", "c_cred", "2026-08-15", "200", "purchased", "2.00", "2026-10-20", "10"),
    ("cr_promo", "c_cred", "2026-08-20", "1000", "promotional", "0", "2026-10-01", "50"),
    ("cr_late", "c_cred", "2026-10-01", "500", "purchased", "5.00", "", "1"),
    # c_tax, October's draft: base fee 44.10 + 8.82 tax, tax_gpu's minimum 18.00 + 3.60; this
    # grant may pay tax_gpu only, so it leaves the larger base fee: 10.00 of tax_gpu's 21.60.
    ("ct_gpu", "c_tax", "2026-10-01", "1000", "promotional", "0", "", "", "charge:tax_gpu"),
]
CREDITS_APPLIED = {"c_cred": D("20.20"), "c_tax": D("300.00"), "c_wallet": D("20.00")}
# (topup_id, customer, threshold_credits, topup_credits, target_credits, price_per_credit)
TOPUPS = [("cw_auto", "c_wallet", "1000", "2000", "", "0.01")]

# (event_id, occurred_at, customer, metric, quantity, status, properties)
EVENTS = [
    # c_unit: 6 calls in September -> (6 - 2 free) * 0.01 = 0.04
    ("u1", "2026-09-02T10:00:00Z", "c_unit", "api_calls", "", "200", ""),
    ("u2", "2026-09-02T11:00:00Z", "c_unit", "api_calls", "", "500", ""),  # no filter: billed
    ("u3", "2026-09-03T10:00:00Z", "c_unit", "api_calls", "1", "200", ""),
    ("u4", "2026-09-04T10:00:00Z", "c_unit", "api_calls", "1", "200", ""),
    ("u5", "2026-09-05T10:00:00Z", "c_unit", "api_calls", "1", "", ""),
    ("u6", "2026-10-01T01:00:00+02:00", "c_unit", "api_calls", "1", "200", ""),  # Sep 30 UTC
    ("u7", "2026-09-30T23:30:00-02:00", "c_unit", "api_calls", "1", "200", ""),  # Oct 1 UTC
    # c_grad (version 2): 4.5 + 6 + 0.25 = 10.75 tokens
    #   tier 1: 10 * 0.10 + 1.00 = 2.00; tier 2: 0.75 * 0.05 + 2.00 = 2.0375 -> 4.0375 -> 4.04
    ("g1", "2026-09-05T00:00:00Z", "c_grad", "tokens", "4.5", "200", ""),
    ("g2", "2026-09-20T00:00:00Z", "c_grad", "tokens", "6", "200", ""),
    ("g3", "2026-09-30T23:59:59.999Z", "c_grad", "tokens", "0.25", "200", ""),
    # c_vol: max(80, 120.5, 90) = 120.5 -> all at tier 2: 120.5 * 0.40 + 5 = 53.20
    ("v1", "2026-09-05T00:00:00Z", "c_vol", "storage_gb", "80", "", ""),
    ("v2", "2026-09-10T00:00:00Z", "c_vol", "storage_gb", "120.5", "", ""),
    ("v3", "2026-09-15T00:00:00Z", "c_vol", "storage_gb", "90", "", ""),
    # c_pkg: users a, b, c (a twice; one login without a user) -> 3 - 1 free = 2 -> 1 package
    #   3.00, base fee 30.00 * 20 / 30 = 20.00
    ("p1", "2026-09-12T08:00:00Z", "c_pkg", "logins", "", "200", '{"user_id": "a"}'),
    ("p2", "2026-09-12T09:00:00Z", "c_pkg", "logins", "", "200", '{"user_id": "b"}'),
    ("p3", "2026-09-13T08:00:00Z", "c_pkg", "logins", "", "200", '{"user_id": "a"}'),
    ("p4", "2026-09-14T08:00:00Z", "c_pkg", "logins", "", "200", '{"user_id": "c"}'),
    ("p5", "2026-09-14T09:00:00Z", "c_pkg", "logins", "", "200", "{}"),
    # c_pct: settled 100.00 + 33.33 = 133.33 in 2 payments; the 402 is declined
    #   133.33 * 0.029 + 2 * 0.30 = 3.86657 + 0.60 = 4.46657 -> 4.47; true-up 10.00 - 4.47 = 5.53
    ("t1", "2026-09-03T00:00:00Z", "c_pct", "payments", "100.00", "200", ""),
    ("t2", "2026-09-04T00:00:00Z", "c_pct", "payments", "33.33", "201", ""),
    ("t3", "2026-09-05T00:00:00Z", "c_pct", "payments", "50.00", "402", ""),
    # c_last: latest EU reading; l2 and l3 share a timestamp, the higher event_id wins -> 65
    #   65 * 0.10 = 6.50 EUR (the later US reading does not match the filter)
    ("l1", "2026-09-03T10:00:00Z", "c_last", "storage_gb", "50", "", '{"region": "eu"}'),
    ("l2", "2026-09-20T10:00:00Z", "c_last", "storage_gb", "70", "", '{"region": "eu"}'),
    ("l3", "2026-09-20T10:00:00Z", "c_last", "storage_gb", "65", "", '{"region": "eu"}'),
    ("l4", "2026-09-25T10:00:00Z", "c_last", "storage_gb", "999", "", '{"region": "us"}'),
    # c_jpy: 3 calls * 0.5 = 1.5 -> 2 JPY (no minor units), base fee 1000
    ("y1", "2026-09-03T00:00:00Z", "c_jpy", "api_calls", "1", "200", ""),
    ("y2", "2026-09-04T00:00:00Z", "c_jpy", "api_calls", "1", "200", ""),
    ("y3", "2026-09-05T00:00:00Z", "c_jpy", "api_calls", "1", "200", ""),
    # c_change: on unit until the 16th: 4 calls -> (4 - 2) * 0.01 = 0.02; the login on the
    #   10th is not priced by unit. On pkg from the 16th: base 30.00 * 15 / 30 = 15.00, users
    #   x, y -> 2 - 1 free -> 1 package 3.00; the call on the 20th is not priced by pkg.
    ("x1", "2026-09-02T00:00:00Z", "c_change", "api_calls", "1", "200", ""),
    ("x2", "2026-09-03T00:00:00Z", "c_change", "api_calls", "1", "200", ""),
    ("x3", "2026-09-04T00:00:00Z", "c_change", "api_calls", "1", "200", ""),
    ("x4", "2026-09-15T23:59:59Z", "c_change", "api_calls", "1", "200", ""),
    ("x5", "2026-09-10T00:00:00Z", "c_change", "logins", "", "200", '{"user_id": "w"}'),
    ("x6", "2026-09-16T00:00:00Z", "c_change", "logins", "", "200", '{"user_id": "x"}'),
    ("x7", "2026-09-17T00:00:00Z", "c_change", "logins", "", "200", '{"user_id": "y"}'),
    ("x8", "2026-09-20T00:00:00Z", "c_change", "api_calls", "1", "200", ""),
    # c_cred: 2 calls * 0.10 = 0.20, base fee 20.00
    ("k1", "2026-09-08T00:00:00Z", "c_cred", "api_calls", "1", "200", ""),
    ("k2", "2026-09-09T00:00:00Z", "c_cred", "api_calls", "1", "200", ""),
    # c_breadth, one line per kind:
    #   payouts 500 + 550 + 4,000 = 5,050 at 1 % to 1,000 + 200, 2 % to 10,000 + 300:
    #     10 + 200 + 4,050 * 0.02 + 300 = 591.00 (Lago's period total)
    ("b1", "2026-09-02T00:00:00Z", "c_breadth", "payout_amount", "500", "200", ""),
    ("b2", "2026-09-03T00:00:00Z", "c_breadth", "payout_amount", "550", "200", ""),
    ("b3", "2026-09-04T00:00:00Z", "c_breadth", "payout_amount", "4000", "200", ""),
    #   blocks 5,000 + 325 = 5,325: 10 packages of 100 + ceil(4,325 / 1,000) = 5 -> 15.00
    ("b4", "2026-09-05T00:00:00Z", "c_breadth", "blocks", "5000", "200", ""),
    ("b5", "2026-09-06T00:00:00Z", "c_breadth", "blocks", "325", "200", ""),
    #   volume_blocks 101,001 reaches the last tier: 102 packages * 0.50 = 51.00
    ("b6", "2026-09-07T00:00:00Z", "c_breadth", "volume_blocks", "101001", "200", ""),
    #   seats 250 in packages of 100 rounded down: 2 * 2.00 = 4.00
    ("b7", "2026-09-08T00:00:00Z", "c_breadth", "seats", "250", "200", ""),
    #   gpus_in_use 4, 6, 11: avg 7 * 30.00 = 210.00
    ("b8", "2026-09-09T00:00:00Z", "c_breadth", "gpus_in_use", "4", "200", ""),
    ("b9", "2026-09-10T00:00:00Z", "c_breadth", "gpus_in_use", "6", "200", ""),
    ("b10", "2026-09-11T00:00:00Z", "c_breadth", "gpus_in_use", "11", "200", ""),
    #   replicas 5, 3, 8: min 3 * 5.00 = 15.00
    ("b11", "2026-09-12T00:00:00Z", "c_breadth", "replicas", "5", "200", ""),
    ("b12", "2026-09-13T00:00:00Z", "c_breadth", "replicas", "3", "200", ""),
    ("b13", "2026-09-14T00:00:00Z", "c_breadth", "replicas", "8", "200", ""),
    #   attached_gb (signed: its -30 is accepted): 10 GB from 1 September, +20 on the 16th,
    #   -30 on the 26th: (10 x 15 + 30 x 10 + 0 x 5) / 30 = 15 GB-months * 0.10 = 1.50
    ("b14", "2026-09-01T00:00:00Z", "c_breadth", "attached_gb", "10", "", ""),
    ("b15", "2026-09-16T00:00:00Z", "c_breadth", "attached_gb", "20", "", ""),
    ("b16", "2026-09-26T00:00:00Z", "c_breadth", "attached_gb", "-30", "", ""),
    # c_caps: 7 capped calls = 7.00, capped at 5.00 (-2.00); 10 floor tokens = 1.00, trued up
    #   to 3.00 (+2.00); the plan's cap measures 5.00 + 3.00 = 8.00 against 6.00: -2.00.
    *[
        (f"cc{n}", "2026-09-15T00:00:00Z", "c_caps", "capped_calls", "1", "200", "")
        for n in range(7)
    ],
    ("ct1", "2026-09-16T00:00:00Z", "c_caps", "floor_tokens", "10", "200", ""),
    # c_recur (October's events arrive with the later run: RECURRING_OCTOBER):
    #   seats_held 2.5 + 2.5 = 5 * 1.00 = 5.00; members: user A -> 1 * 3.00 = 3.00;
    #   disk 10 GB from 1 September, all month: 10 GB-months * 0.10 = 1.00
    ("r1", "2026-09-09T00:00:00Z", "c_recur", "seat_changes", "2.5", "", ""),
    ("r2", "2026-09-09T06:00:00Z", "c_recur", "seat_changes", "2.5", "", ""),
    ("r3", "2026-09-09T00:00:00Z", "c_recur", "member_events", "1", "", '{"user": "A"}'),
    ("r4", "2026-09-01T00:00:00Z", "c_recur", "disk_gb", "10", "", ""),
    # c_bucket (Flexprice's examples):
    #   gpu_days: daily maxima 9 (of 2, 5, 6, 9) on the 2nd and 15 on the 3rd, each through the
    #     tiers: 0.90 + (1.00 + 0.25) = 2.15 (24 GPUs in one bucket would be 1.00 + 0.50 +
    #     0.08 = 1.58)
    *[
        (f"gd{n}", f"2026-09-02T0{n}:00:00Z", "c_bucket", "gpu_count", q, "", "")
        for n, q in enumerate(("2", "5", "6", "9"))
    ],
    ("gd4", "2026-09-03T12:00:00Z", "c_bucket", "gpu_count", "15", "", ""),
    #   gpu_hours: hourly maxima 9 (10:00-10:59) and 10 (11:00) at 0.10: 1.90
    ("gh0", "2026-09-04T10:05:00Z", "c_bucket", "gpu_hourly", "4", "", ""),
    ("gh1", "2026-09-04T10:55:00Z", "c_bucket", "gpu_hourly", "9", "", ""),
    ("gh2", "2026-09-04T11:00:00Z", "c_bucket", "gpu_hourly", "10", "", ""),
    #   batch_packs: daily sums 50, 150, 200, 99 in packages of 100 at 5: 5 + 10 + 10 + 5 = 30.00
    ("gb0", "2026-09-05T00:00:00Z", "c_bucket", "batch_jobs", "50", "", ""),
    ("gb1", "2026-09-06T00:00:00Z", "c_bucket", "batch_jobs", "100", "", ""),
    ("gb2", "2026-09-06T23:00:00Z", "c_bucket", "batch_jobs", "50", "", ""),
    ("gb3", "2026-09-07T00:00:00Z", "c_bucket", "batch_jobs", "200", "", ""),
    ("gb4", "2026-09-08T00:00:00Z", "c_bucket", "batch_jobs", "99", "", ""),
    # c_cards, in (occurred_at, event_id) order whatever the file's order:
    #   card_fees 50, 100, 250, 400 at 1.3 % + 2.00, free 3 events / 250: 50 and 100 free, 250
    #     pays on 150, 400 on 400: 550 x 0.013 + 2 x 2.00 = 11.15
    ("cf4", "2026-09-12T00:00:00Z", "c_cards", "card_payments", "400", "", ""),
    ("cf1", "2026-09-10T00:00:00Z", "c_cards", "card_payments", "50", "", ""),
    ("cf3", "2026-09-11T12:00:00Z", "c_cards", "card_payments", "250", "", ""),
    ("cf2", "2026-09-11T00:00:00Z", "c_cards", "card_payments", "100", "", ""),
    #   fx_fees 10, 80, 10,000 at 2.99 %, free 30, min 1.75, max 12: 10 free, 80 pays on 60
    #     (1.794), 10,000 -> 12.00: 13.794 -> 13.79
    ("fx1", "2026-09-10T00:00:00Z", "c_cards", "fx_payments", "10", "", ""),
    ("fx2", "2026-09-10T00:00:01Z", "c_cards", "fx_payments", "80", "", ""),
    ("fx3", "2026-09-10T00:00:02Z", "c_cards", "fx_payments", "10000", "", ""),
    #   refund_fees: two refunds of 0 bill nothing (not 2 x 0.50)
    ("rf1", "2026-09-13T00:00:00Z", "c_cards", "refunds", "0", "", ""),
    ("rf2", "2026-09-14T00:00:00Z", "c_cards", "refunds", "0", "", ""),
    # c_groups: llm_tokens 1,200,000 small at the default 0.000002 = 2.40, 300,000 large at
    #   0.00001 = 3.00, 10,000 without a model at the default = 0.02; regional 3 units in eu
    #   (3.00) and 12 in us (10 x 1.00 + 2 x 2.00 = 14.00): tiers restart in each group
    ("lt1", "2026-09-03T00:00:00Z", "c_groups", "llm_tokens", "700000", "", '{"model": "small"}'),
    ("lt2", "2026-09-04T00:00:00Z", "c_groups", "llm_tokens", "500000", "", '{"model": "small"}'),
    ("lt3", "2026-09-05T00:00:00Z", "c_groups", "llm_tokens", "300000", "", '{"model": "large"}'),
    ("lt4", "2026-09-06T00:00:00Z", "c_groups", "llm_tokens", "10000", "", ""),
    ("ru1", "2026-09-07T00:00:00Z", "c_groups", "regional_units", "3", "", '{"region": "eu"}'),
    ("ru2", "2026-09-08T00:00:00Z", "c_groups", "regional_units", "12", "", '{"region": "us"}'),
    # c_tax (20 %, the spec's invoice): base fee 44.10 -> 8.82, tax_calls 225.00 -> 45.00,
    #   tax_gpu 18.00 -> 3.60, training 10.00 exempt (the charge's rate 0): tax 57.42
    ("tx1", "2026-09-05T00:00:00Z", "c_tax", "tax_calls", "250", "", ""),
    ("tx2", "2026-09-06T00:00:00Z", "c_tax", "tax_gpu", "15", "", ""),
    ("tx3", "2026-09-07T00:00:00Z", "c_tax", "training_hours", "10", "", ""),
    # the cadence customers (CADENCE_CUSTOMERS)
    ("qc1", "2026-09-10T00:00:00Z", "c_quarter", "q_calls", "", "200", ""),
    ("qc2", "2026-09-20T00:00:00Z", "c_quarter", "q_calls", "", "200", ""),
    ("qc3", "2026-09-30T23:00:00Z", "c_quarter", "q_calls", "", "200", ""),
    ("ac1", "2026-09-16T00:00:00Z", "c_anniv", "a_calls", "", "200", ""),
    ("ac2", "2026-09-20T00:00:00Z", "c_anniv", "a_calls", "", "200", ""),
    *[
        (f"mc{d}", f"2026-09-{d}T00:00:00Z", "c_monthly", "m_calls", "", "200", "")
        for d in (11, 12, 13)
    ],
]
# c_anniv's October call, in its period that began on 15 September (the later run), and
# c_monthly's October calls, in Q4's first month (its own invoice).
ANNIV_OCTOBER = [
    ("ac3", "2026-10-02T00:00:00Z", "c_anniv", "a_calls", "", "200", ""),
    *[
        (f"mo{d}", f"2026-10-0{d}T00:00:00Z", "c_monthly", "m_calls", "", "200", "")
        for d in (2, 3, 4)
    ],
]

# c_recur's October, carried over from September (Lago's examples):
#   seats_held 5 carried + 4 x 12 = 53 * 1.00 = 53.00
#   members: A carried, B added on the 2nd, A removed on the 5th at 23:59:59 (a removal
#     anywhere in the period counts) -> B alone: 3.00
#   disk: 10 GB carried all 31 days, +20 from the 6th (26 days): (310 + 520) / 31 =
#     26.774193548 GB-months * 0.10 = 2.6774... -> 2.68
RECURRING_OCTOBER = [
    *[
        (f"r_oct{d}", f"2026-10-0{d}T08:00:00Z", "c_recur", "seat_changes", "12", "", "")
        for d in (2, 3, 4, 5)
    ],
    ("r_b", "2026-10-02T00:00:00Z", "c_recur", "member_events", "1", "", '{"user": "B"}'),
    (
        "r_a_out",
        "2026-10-05T23:59:59Z",
        "c_recur",
        "member_events",
        "1",
        "",
        '{"user": "A", "operation_type": "remove"}',
    ),
    ("r_disk", "2026-10-06T00:00:00Z", "c_recur", "disk_gb", "20", "", ""),
]

# c_bucket's October (BUCKETS_OCTOBER): a daily maximum of 12 on the 2nd (10 x 0.10 + 2 x 0.05 =
# 1.10) and an hourly maximum of 4 (0.40): 1.50 so far. As of 10 October 12:00 the projection
# adds the mean bucket so far for each bucket left: 1.10 x 31 days / 10 days begun = 3.41, and
# 0.40 x 744 hours / 228 hours begun = 1.305... -> 1.31: 4.72.
BUCKETS_OCTOBER = [
    ("gd_oct", "2026-10-02T08:00:00Z", "c_bucket", "gpu_count", "12", "", ""),
    ("gh_oct", "2026-10-03T05:00:00Z", "c_bucket", "gpu_hourly", "4", "", ""),
]

# invoice -> {(line_type, charge_id[, group_key]): amount}, all worked out above
EXPECTED_LINES = {
    "c_unit": {("usage", "calls"): D("0.04")},
    "c_grad": {("usage", "tokens"): D("4.04")},
    "c_vol": {("usage", "peak"): D("53.20")},
    "c_pkg": {("usage", "mau"): D("3.00"), ("base_fee", None): D("20.00")},
    "c_pct": {("usage", "payments"): D("4.47"), ("minimum_true_up", None): D("5.53")},
    "c_last": {("usage", "eu_storage"): D("6.50")},
    "c_jpy": {("usage", "calls"): D("2"), ("base_fee", None): D("1000")},
    "c_cred": {("usage", "calls"): D("0.20"), ("base_fee", None): D("20.00")},
    "c_wallet": {("usage", "calls"): D("0.00"), ("base_fee", None): D("20.00")},
    "c_change": {
        ("usage", "calls"): D("0.02"),
        ("usage", "mau"): D("3.00"),
        ("base_fee", None): D("15.00"),
    },
    "c_caps": {
        ("usage", "capped_calls"): D("7.00"),
        ("spend_cap", "capped_calls"): D("-2.00"),
        ("usage", "floor_tokens"): D("1.00"),
        ("minimum_true_up", "floor_tokens"): D("2.00"),
        ("spend_cap", None): D("-2.00"),
    },
    "c_recur": {
        ("usage", "seats_held"): D("5.00"),
        ("usage", "members"): D("3.00"),
        ("usage", "disk"): D("1.00"),
    },
    "c_bucket": {
        ("usage", "gpu_days"): D("2.15"),
        ("usage", "gpu_hours"): D("1.90"),
        ("usage", "batch_packs"): D("30.00"),
    },
    "c_cards": {
        ("usage", "card_fees"): D("11.15"),
        ("usage", "fx_fees"): D("13.79"),
        ("usage", "refund_fees"): D("0.00"),
    },
    "c_groups": {
        ("usage", "llm_tokens", '{"model":"large"}'): D("3.00"),
        ("usage", "llm_tokens", '{"model":"small"}'): D("2.40"),
        ("usage", "llm_tokens", '{"model":null}'): D("0.02"),
        ("usage", "regional", '{"region":"eu"}'): D("3.00"),
        ("usage", "regional", '{"region":"us"}'): D("14.00"),
    },
    "c_tax": {
        ("base_fee", None): D("49.00"),
        ("usage", "tax_calls"): D("250.00"),
        ("usage", "tax_gpu"): D("15.00"),
        ("minimum_true_up", "tax_gpu"): D("5.00"),
        ("usage", "training"): D("10.00"),
        # launch10: 10 % of 329.00, shared 4.90 / 25.00 / 2.00 / 1.00
        ("discount", None): D("-32.90"),
    },
    "c_breadth": {
        ("usage", "payouts"): D("591.00"),
        ("usage", "blocks"): D("15.00"),
        ("usage", "volume_blocks"): D("51.00"),
        ("usage", "seats"): D("4.00"),
        ("usage", "gpu_avg"): D("210.00"),
        ("usage", "floor"): D("15.00"),
        ("usage", "storage"): D("1.50"),
    },
}
EXPECTED_QUANTITIES = {
    ("c_unit", "calls"): D(6),
    ("c_grad", "tokens"): D("10.75"),
    ("c_vol", "peak"): D("120.5"),
    ("c_pkg", "mau"): D(3),
    ("c_pct", "payments"): D("133.33"),
    ("c_last", "eu_storage"): D(65),
    ("c_caps", "capped_calls"): D(7),
    ("c_caps", "floor_tokens"): D(10),
    ("c_breadth", "payouts"): D(5050),
    ("c_breadth", "blocks"): D(5325),
    ("c_breadth", "volume_blocks"): D(101001),
    ("c_breadth", "seats"): D(250),
    ("c_breadth", "gpu_avg"): D(7),
    ("c_breadth", "floor"): D(3),
    ("c_breadth", "storage"): D(15),
    ("c_recur", "seats_held"): D(5),
    ("c_recur", "members"): D(1),
    ("c_recur", "disk"): D(10),
    ("c_bucket", "gpu_days"): D(24),  # the sum of the buckets' values
    ("c_bucket", "gpu_hours"): D(19),
    ("c_bucket", "batch_packs"): D(499),
    ("c_cards", "card_fees"): D(800),
    ("c_cards", "fx_fees"): D(10090),
}
SUBTOTALS = {c: sum(lines.values()) for c, lines in EXPECTED_LINES.items()}
TAXES = {"c_tax": D("57.42")}


def write_csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)]
    for row in rows:
        lines.append(
            ",".join(
                '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v for v in row
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_home(home: Home) -> None:
    home.pricing.mkdir(parents=True, exist_ok=True)
    (home.pricing / "plans.yaml").write_text(PRICE_BOOK, encoding="utf-8")
    (home.pricing / "coupons.yaml").write_text(COUPONS, encoding="utf-8")
    ref = home.landing_reference
    ref.mkdir(parents=True, exist_ok=True)
    (ref / "seller.yaml").write_text(SELLER, encoding="utf-8")
    write_csv(
        ref / "coupon_redemptions.csv",
        ["redemption_id", "customer_id", "coupon_id", "redeemed_on"],
        REDEMPTIONS,
    )
    write_csv(
        ref / "customers.csv",
        ["customer_id", "name", "currency", "created_at", "tax_rate", "billing_address", "tax_id"],
        [
            (
                c,
                c.upper(),
                ccy,
                "2026-01-01T00:00:00Z",
                TAX_RATES.get(c, ""),
                *BILLING.get(c, ("", "")),
            )
            for c, ccy in (CUSTOMERS | CADENCE_CUSTOMERS).items()
        ],
    )
    write_csv(
        ref / "subscriptions.csv",
        ["subscription_id", "customer_id", "plan_id", "started_at", "ended_at"],
        SUBSCRIPTIONS,
    )
    write_csv(ref / "budgets.csv", ["customer_id", "monthly_budget", "thresholds"], BUDGETS)
    write_csv(
        ref / "credit_topups.csv",
        [
            "topup_id",
            "customer_id",
            "threshold_credits",
            "topup_credits",
            "target_credits",
            "price_per_credit",
        ],
        TOPUPS,
    )
    write_csv(
        ref / "credit_grants.csv",
        [
            "grant_id",
            "customer_id",
            "granted_at",
            "credits",
            "kind",
            "purchase_amount",
            "expires_at",
            "priority",
            "applies_to",
            "recurrence",
            "recurrence_ends_at",
            "rollover_cap",
        ],
        [(*g, "", "", "", "")[:12] for g in GRANTS],
    )
    # The billing system of record billed exactly the hand-worked subtotals and credits.
    write_csv(
        ref / "billed_invoices.csv",
        [
            "invoice_id",
            "customer_id",
            "period_start",
            "currency",
            "subtotal",
            "credits_applied",
            "total",
        ],
        [
            (
                f"b_{c}",
                c,
                "2026-09-01",
                CUSTOMERS[c],
                str(s),
                str(CREDITS_APPLIED.get(c, D(0))),
                str(s + TAXES.get(c, D(0)) - CREDITS_APPLIED.get(c, D(0))),
            )
            for c, s in SUBTOTALS.items()
        ]
        + CADENCE_BILLED,
    )
    write_csv(
        home.landing_usage / "2026-09.csv",
        ["event_id", "occurred_at", "customer_id", "metric", "quantity", "status", "properties"],
        EVENTS,
    )


def q(home: Home, sql: str):
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def _run_and_close_september(home: Home, _params) -> dict:
    """The worked world run to 1 October and September closed, in a time zone 14 hours ahead
    of UTC (a local-time bug would move whole days)."""
    write_home(home)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TZ", "Pacific/Kiritimati")
        return {
            "run": tally(home, "run", "--from", "2026-09-01", "--to", "2026-10-01"),
            "close": tally(home, "close", "--month", "2026-09"),
        }


# Shared by the worked-invoice and backfill modules, each on its own copy.
WORKED = World("worked", _run_and_close_september)
