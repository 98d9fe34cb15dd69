-- id: P007
-- title: Agent lifecycle
-- family: parallel
-- param: execution_id text
-- returns: instance_id, wave_number, status, spawned_at, terminated_at, runtime_ms, current_task_id, task_ids, error, pid, hostname
-- purpose: Each agent instance of an execution from spawn to end: how long it lived, what it worked on, how it ended.

-- runtime_ms runs from spawn to termination; for an agent still executing, to its last
-- heartbeat (its last activity), so the figure does not depend on the clock. task_ids lists
-- the tasks the instance ran, in start order.
WITH agents AS (
    SELECT *
    FROM build_agent_instances
    WHERE execution_id = :execution_id
),
agent_tasks AS (
    SELECT instance_id, group_concat(id, ',') AS task_ids
    FROM (
        -- the list of each agent's tasks reads them in order: by start, then id
        SELECT instance_id, id, julianday(started_at) AS started_jd
        FROM tasks
        WHERE execution_id = :execution_id AND instance_id IS NOT NULL
        ORDER BY instance_id, started_jd, id
    )
    GROUP BY instance_id
)
SELECT
    a.id AS instance_id,
    a.wave_number,
    a.status,
    a.spawned_at,
    a.terminated_at,
    ROUND(
        (julianday(COALESCE(a.terminated_at, a.last_heartbeat_at)) - julianday(a.spawned_at))
        * 86400000.0
    ) AS runtime_ms,
    a.current_task_id,
    t.task_ids,
    a.error,
    a.pid,
    a.hostname
FROM agents AS a
LEFT JOIN agent_tasks AS t ON t.instance_id = a.id
ORDER BY julianday(a.spawned_at), a.id
