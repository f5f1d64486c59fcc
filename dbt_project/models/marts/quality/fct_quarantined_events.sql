-- Every rejected raw row with its file, row number, reason code and the raw record.
select
    file_path,
    row_number,
    reason,
    raw_record,
    batch_id
from {{ ref('stg_lake__quarantined_events') }}
