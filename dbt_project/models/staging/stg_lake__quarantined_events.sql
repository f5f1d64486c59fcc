select
    file_path,
    row_number,
    reason,
    raw_record,
    batch_id
from {{ source('lake', 'quarantined_events') }}
