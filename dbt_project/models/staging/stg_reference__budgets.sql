select
    customer_id,
    cast(monthly_budget as {{ money_type() }}) as monthly_budget,
    threshold_pct
from {{ source('reference', 'budgets') }}
