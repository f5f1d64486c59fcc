{#-
  Deferred revenue rolls forward per customer: opening + purchases - credit revenue - breakage
  - deferred to tax = closing, each month's opening is the previous month's closing, and it never goes negative.
-#}
{% test deferred_roll_forward_ties(model) %}
with

ordered as (
    select
        *,
        lag(deferred_closing) over (partition by customer_id order by month) as previous_closing
    from {{ model }}
)

select customer_id, month
from ordered
where deferred_opening + purchases - credit_revenue - breakage_revenue - deferred_to_tax <> deferred_closing
    or deferred_opening <> coalesce(previous_closing, 0)
    or deferred_closing < 0
{% endtest %}
