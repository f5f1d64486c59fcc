-- Credits nothing will draw (a warning): a customer holds credits that can pay its open
-- period (mart_customer_spend.credits_remaining), or has an automatic top-up rule in force for
-- it, but the plan of the period's draft invoice takes no credits (no credit_rate), so close
-- leaves them untouched. Usually a grant for the wrong customer, or a plan that forgot its
-- credit_rate.
{%- set q = quantity_type() %}
with

spend as (select * from {{ ref('mart_customer_spend') }}),
invoices as (select * from {{ ref('int_invoices_with_adjustments') }}),
issued as (select * from {{ ref('stg_issued__invoices') }}),
rules as (select * from {{ ref('stg_reference__credit_topups') }}),

open_without_rate as (
    select i.invoice_id, i.customer_id, i.period_start, i.period_end
    from invoices as i
    where i.credit_rate is null
        and i.invoice_id not in (select invoice_id from issued)
),

findings as (
    select
        'credits_not_accepted' as check_name,
        o.customer_id,
        o.period_start,
        'credits held' as subject,
        cast(s.credits_remaining as {{ q }}) as expected,
        cast(0 as {{ q }}) as actual
    from open_without_rate as o
    inner join spend as s
        on o.customer_id = s.customer_id
        and o.period_start = s.period_start
    where s.credits_remaining > 0
    union all
    select
        'credits_not_accepted' as check_name,
        o.customer_id,
        o.period_start,
        'top-up rule ' || r.topup_id as subject,
        cast(null as {{ q }}) as expected,
        cast(null as {{ q }}) as actual
    from open_without_rate as o
    inner join rules as r
        on o.customer_id = r.customer_id
        and {{ topup_rule_in_force('r', 'o.period_end') }}
)

select {{ finding_columns("'warning'") }}
from findings
