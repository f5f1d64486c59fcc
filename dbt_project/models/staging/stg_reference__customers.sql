select
    customer_id,
    name as customer_name,
    upper(currency) as currency,
    created_at,
    tax_rate
from {{ source('reference', 'customers') }}
