-- id: V004
-- title: Lock balance
-- family: validation
-- param: execution_id text
-- returns: file_path, acquires, releases, balance
-- purpose: Files whose lock acquires and releases do not balance (balance = acquires - releases).
WITH lock_events AS (
    SELECT json_extract(details, '$.file_path') AS file_path, entry_type
    FROM transcript_entries
    WHERE execution_id = :execution_id
      AND entry_type IN ('lock_acquire', 'lock_release')
),
per_file AS (
    SELECT file_path,
           SUM(entry_type = 'lock_acquire') AS acquires,
           SUM(entry_type = 'lock_release') AS releases
    FROM lock_events
    GROUP BY file_path
)
SELECT file_path, acquires, releases, acquires - releases AS balance
FROM per_file
WHERE acquires <> releases
ORDER BY file_path
