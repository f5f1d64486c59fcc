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
-- A close is committed when its invoices file is written: parts of a close that crashed
-- before it are not part of any issued invoice, whatever is left on disk.
where customer_id || ':' || cast(period_start as string) in (
    select customer_id || ':' || cast(period_start as string) from {{ source('issued', 'invoices') }}
)
