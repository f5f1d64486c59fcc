-- Automatic top-up rules (transforms/topups.py): when a customer's balance is at or below
-- threshold_credits while close applies credits, a top-up of topup_credits, or up to
-- target_credits, is granted; at most max_per_period per billing period.
select
    topup_id,
    customer_id,
    cast(threshold_credits as {{ quantity_type() }}) as threshold_credits,
    cast(topup_credits as {{ quantity_type() }}) as topup_credits,
    cast(target_credits as {{ quantity_type() }}) as target_credits,
    cast(price_per_credit as decimal(38, 12)) as price_per_credit,
    kind,
    cast(priority as integer) as priority,
    starts_on,
    ends_on,
    cast(max_per_period as integer) as max_per_period
from {{ source('reference', 'credit_topups') }}
