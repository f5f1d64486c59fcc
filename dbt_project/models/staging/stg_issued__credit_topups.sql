-- Automatic top-ups made at month close (transforms/topups.py): each a grant of credits,
-- granted on the period's last day (`created_on`), never expiring.
select
    topup_grant_id,
    topup_id,
    customer_id,
    period_start,
    created_on,
    cast(credits as {{ quantity_type() }}) as credits,
    cast(purchase_amount as {{ money_type() }}) as purchase_amount,
    currency,
    kind,
    cast(priority as integer) as priority
from {{ source('issued', 'credit_topups') }}
-- A month is issued when its invoices file is written (the close's commit).
where period_start in (select period_start from {{ source('issued', 'invoices') }})
