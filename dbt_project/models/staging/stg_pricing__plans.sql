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
    source_file
from {{ source('pricing', 'plans') }}
