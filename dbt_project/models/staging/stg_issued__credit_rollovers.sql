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
-- A month is issued when its invoices file is written (the close's commit).
where period_start in (select period_start from {{ source('issued', 'invoices') }})
