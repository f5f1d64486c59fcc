-- Spend in each customer's latest period (int_customer_spend, which the spend notifications
-- read too).
select * from {{ ref('int_customer_spend') }}
