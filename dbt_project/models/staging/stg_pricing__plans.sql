select
    plan_id,
    plan_version,
    effective_from,
    currency,
    base_fee,
    minimum_commitment,
    maximum_commitment,
    credit_rate,
    tax_rate,
    source_file,
    -- credit_allocation: promotional credits each billing period (int_credit_grants)
    cast(allocation_credits as {{ quantity_type() }}) as allocation_credits,
    cast(allocation_rollover_cap as {{ quantity_type() }}) as allocation_rollover_cap,
    allocation_priority,
    -- the billing cadence (int_subscription_segments): the same in every version of a plan
    billing_interval,
    billing_anchor,
    base_fee_timing,
    usage_invoicing
from {{ source('pricing', 'plans') }}
