select
    file_path,
    content_sha256,
    rows_read,
    rows_accepted,
    rows_quarantined,
    duplicates_dropped,
    status,
    error,
    ingested_at,
    batch_id
from {{ source('lake', 'ingested_files') }}
