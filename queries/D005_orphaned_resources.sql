-- id: D005
-- title: Orphaned resources
-- family: anomaly
-- param: execution_id text
-- returns: resource_type, resource_id, instance_id, task_id, sequence, acquired_at, detail
-- purpose: Locks taken and never given back, checkpoints created and never committed or rolled back.

-- Locks are matched per (instance, file path): the instance's acquires of a path are paired in
-- order with its releases of that path; every acquire beyond the number of releases is orphaned
-- and reported at its own entry (the latest ones, since the earlier ones were paired). A
-- checkpoint (by checkpoint_id) is orphaned when it was created and no commit or rollback of it
-- follows; a restore does not settle it.
WITH lock_events AS (
    SELECT
        entry_type,
        instance_id,
        task_id,
        sequence,
        timestamp,
        json_extract(details, '$.file_path') AS file_path
    FROM transcript_entries
    WHERE execution_id = :execution_id AND entry_type IN ('lock_acquire', 'lock_release')
),
acquires AS (
    SELECT
        *,
        -- counting from the last acquire backwards: 1 is the latest
        ROW_NUMBER() OVER (
            PARTITION BY instance_id, file_path ORDER BY sequence DESC
        ) AS from_last
    FROM lock_events
    WHERE entry_type = 'lock_acquire'
),
balance AS (
    SELECT
        instance_id,
        file_path,
        SUM(entry_type = 'lock_acquire') AS acquired,
        SUM(entry_type = 'lock_release') AS released
    FROM lock_events
    GROUP BY instance_id, file_path
),
orphan_locks AS (
    SELECT
        'lock' AS resource_type,
        a.file_path AS resource_id,
        a.instance_id,
        a.task_id,
        a.sequence,
        a.timestamp AS acquired_at,
        b.acquired || ' acquired, ' || b.released || ' released' AS detail
    FROM acquires AS a
    JOIN balance AS b
        ON b.instance_id IS a.instance_id AND b.file_path IS a.file_path
    WHERE a.from_last <= b.acquired - b.released
),
checkpoints AS (
    SELECT
        instance_id,
        task_id,
        sequence,
        timestamp,
        json_extract(details, '$.checkpoint_id') AS checkpoint_id,
        json_extract(details, '$.action') AS action
    FROM transcript_entries
    WHERE execution_id = :execution_id AND entry_type = 'checkpoint'
),
orphan_checkpoints AS (
    SELECT
        'checkpoint' AS resource_type,
        c.checkpoint_id AS resource_id,
        c.instance_id,
        c.task_id,
        c.sequence,
        c.timestamp AS acquired_at,
        'created, never committed or rolled back' AS detail
    FROM checkpoints AS c
    WHERE c.action = 'create'
        AND NOT EXISTS (
            SELECT 1 FROM checkpoints AS s
            WHERE s.checkpoint_id IS c.checkpoint_id
                AND s.action IN ('commit', 'rollback')
                AND s.sequence > c.sequence
        )
)
SELECT * FROM orphan_locks
UNION ALL
SELECT * FROM orphan_checkpoints
ORDER BY sequence
