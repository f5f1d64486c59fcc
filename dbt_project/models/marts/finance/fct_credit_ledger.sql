-- The credit ledger, one row per entry (int_credit_ledger, where every model that needs the
-- ledger reads it).
select * from {{ ref('int_credit_ledger') }}
