-- One row per raw file version seen in landing, with its row conservation counts.
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
from {{ ref('stg_lake__ingested_files') }}
