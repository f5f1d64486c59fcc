-- Lines of issued invoices, frozen at month close.
select
    invoice_line_id,
    invoice_id,
    customer_id,
    period_start,
    line_type,
    charge_id,
    group_key,
    cast(quantity as {{ quantity_type() }}) as quantity,
    cast(amount as {{ money_type() }}) as amount,
    currency,
    plan_id,
    cast(plan_version as integer) as plan_version,
    -- the tax rate of the line's item when it was issued; lines issued before taxes had none
    cast(coalesce(tax_rate, 0) as decimal(38, 12)) as tax_rate,
    coupon_id,
    -- the days a line is for (null on lines issued before fees in advance)
    service_period_start,
    service_period_end
from {{ source('issued', 'invoice_lines') }}
-- A close is committed when its invoices file is written: parts of a close that crashed
-- before it are not part of any issued invoice, whatever is left on disk.
where invoice_id in (select invoice_id from {{ source('issued', 'invoices') }})
