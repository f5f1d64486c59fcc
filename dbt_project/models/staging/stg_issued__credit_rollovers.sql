-- Grants settled at month close once every period they could pay is closed
-- (transforms/credits.py CreditBook.settle): what a recurring grant's instance carried into
-- the next instance (`to_grant_id`), what expired, and their deferred revenue.
select
    entry_id,
    grant_id,
    customer_id,
    period_start,
    entry_date,
    to_grant_id,
    cast(carried as {{ quantity_type() }}) as carried,
    cast(expired as {{ quantity_type() }}) as expired,
    cast(moved as {{ money_type() }}) as moved,
    cast(breakage as {{ money_type() }}) as breakage
from {{ source('issued', 'credit_rollovers') }}
-- A close is committed when its invoices file is written: parts of a close that crashed
-- before it are not part of any issued invoice, whatever is left on disk.
-- Rollovers are dated by the month whose close made them: the month of an issued invoice's
-- last day.
where period_start in (
    select {{ month_start(period_last_day('period_end')) }} from {{ source('issued', 'invoices') }}
)
