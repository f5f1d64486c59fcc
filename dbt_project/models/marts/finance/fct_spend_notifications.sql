-- Customer spend notifications, for the open period of each customer, and one per automatic
-- top-up a close made: every notification raised by an earlier run, as it was raised, plus the
-- ones this run raises for the first time. A notification is raised once per customer, period,
-- kind (and threshold, or top-up): its id says which, and an id already raised is never raised
-- again. The spend_notifications
-- asset then records the new ones in the lake, appends them to alerts/notifications.jsonl and
-- posts them to the webhook.
with

spend as (select * from {{ ref('int_customer_spend') }}),
invoices as (select * from {{ ref('int_invoices_current') }}),
budgets as (select * from {{ ref('stg_reference__budgets') }}),
raised as (select * from {{ ref('stg_lake__spend_notifications') }}),
topups as (select * from {{ ref('stg_issued__credit_topups') }}),

-- Only an open period notifies: a closed one is billed, nothing is left to warn about.
open_spend as (
    select s.*
    from spend as s
    inner join invoices as i
        on s.customer_id = i.customer_id
        and s.period_start = i.period_start
    where i.status = 'draft'
),

-- A period's budget: the monthly budget times the months of its billing interval (a quarter's
-- is three months').
period_budgets as (
    select distinct s.customer_id, b.monthly_budget * s.period_months as budget
    from open_spend as s
    inner join budgets as b on s.customer_id = b.customer_id
),

-- Spend to date (the draft's subtotal, before credits) reached a threshold of the budget.
thresholds_reached as (
    select
        s.customer_id, s.period_start, s.period_end, 'spend_threshold' as kind, b.threshold_pct,
        s.spend_to_date as amount, b.monthly_budget * s.period_months as budget, s.currency, s.as_of
    from open_spend as s
    inner join budgets as b on s.customer_id = b.customer_id
    where s.spend_to_date * 100 >= b.monthly_budget * s.period_months * b.threshold_pct
),

over_budget as (
    select
        s.customer_id, s.period_start, s.period_end, 'projected_over_budget' as kind,
        cast(null as int) as threshold_pct,
        s.projected_spend as amount, b.budget, s.currency, s.as_of
    from open_spend as s
    inner join period_budgets as b on s.customer_id = b.customer_id
    where s.projected_spend > b.budget
),

-- A customer holding credits whose remaining value would not cover the projected spend:
-- the amount is the shortfall.
credits_short as (
    select
        s.customer_id, s.period_start, s.period_end, 'credits_running_out' as kind,
        cast(null as int) as threshold_pct,
        s.projected_spend - s.credits_remaining_value as amount,
        b.budget, s.currency, s.as_of
    from open_spend as s
    left join period_budgets as b on s.customer_id = b.customer_id
    where s.credits_remaining > 0
        and s.credits_remaining_value < s.projected_spend
),

-- A top-up a close made (its period is closed): the amount is what the customer pays for it.
topped_up as (
    select
        customer_id, period_start, cast(null as date) as period_end, 'credits_topped_up' as kind,
        cast(null as int) as threshold_pct,
        purchase_amount as amount,
        cast(null as {{ money_type() }}) as budget, currency, created_on as as_of,
        topup_grant_id as topic
    from topups
),

candidates as (
    select *, cast(null as string) as topic from thresholds_reached
    union all
    select *, cast(null as string) as topic from over_budget
    union all
    select *, cast(null as string) as topic from credits_short
    union all
    select * from topped_up
),

new_notifications as (
    select
        customer_id || ':' || {{ tally.period_key('period_start') }} || ':' || kind
        || coalesce(':' || cast(threshold_pct as string), '')
        || coalesce(':' || topic, '') as notification_id,
        customer_id,
        period_start,
        period_end,
        kind,
        threshold_pct,
        cast(amount as {{ money_type() }}) as amount,
        cast(budget as {{ money_type() }}) as budget,
        currency,
        as_of,
        cast('{{ run_started_at.isoformat() }}' as {{ tally.timestamp_type() }}) as sent_at
    from candidates
),

final as (
    select
        notification_id, customer_id, period_start, period_end, kind, threshold_pct, amount, budget,
        currency, as_of, cast(sent_at as {{ tally.timestamp_type() }}) as sent_at
    from raised
    union all
    select *
    from new_notifications
    where notification_id not in (select notification_id from raised)
)

select * from final
