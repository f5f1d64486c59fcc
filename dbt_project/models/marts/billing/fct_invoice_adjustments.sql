-- Differences between issued invoices and what current data and prices give, per invoice
-- and charge. Stub: the re-rating comparison and reasons arrive with issue #6.
select
    cast(null as varchar) as invoice_id,
    cast(null as varchar) as customer_id,
    cast(null as date) as period_start,
    cast(null as varchar) as charge_id,
    cast(null as {{ money_type() }}) as issued_amount,
    cast(null as {{ money_type() }}) as recomputed_amount,
    cast(null as {{ money_type() }}) as difference,
    cast(null as varchar) as reason
where 1 = 0
