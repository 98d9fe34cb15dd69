-- id: P002
-- title: Stuck agents
-- family: parallel
-- param: execution_id text
-- param: heartbeat_s float = 120
-- param: now timestamp = now
-- returns: instance_id, wave_number, current_task_id, spawned_at, last_heartbeat_at, silent_s, pid, hostname
-- purpose: Agents that still claim to be executing but have shown no activity for longer than the threshold.

-- Stuck = status 'executing' (its agent span is still open) and last_heartbeat_at (the last
-- activity seen from it) more than heartbeat_s seconds before now. silent_s is how long it
-- has been quiet at `now`; the quietest agent comes first.
SELECT
    id AS instance_id,
    wave_number,
    current_task_id,
    spawned_at,
    last_heartbeat_at,
    ROUND((julianday(:now) - julianday(last_heartbeat_at)) * 86400.0, 3) AS silent_s,
    pid,
    hostname
FROM build_agent_instances
WHERE execution_id = :execution_id
    AND status = 'executing'
    AND julianday(last_heartbeat_at) < julianday(:now) - :heartbeat_s / 86400.0
ORDER BY julianday(last_heartbeat_at), id
