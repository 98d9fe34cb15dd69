-- id: D006
-- title: Circular waits
-- family: anomaly
-- param: execution_id text?
-- param: max_length int = 32
-- returns: execution_id, cycle_start, cycle_length, path
-- purpose: Tasks that wait on each other in a circle, so none of them can ever start.

-- Edges are task_relationships 'depends_on' rows (source waits on target); without an
-- execution id every execution is searched. Two steps keep the search bounded:
-- 1. reach: which task reaches which, a set computed with UNION (so it ends even on cycles).
--    A task lies on a cycle when it reaches itself; an edge u -> v lies on one when v reaches u.
-- 2. walks: simple paths along cycle edges only, started from each cycle task and visiting only
--    tasks with a larger id, so each cycle is found once, from its smallest task. Paths stop
--    after max_length tasks.
-- path reads "a -> b -> c -> a": a waits on b, b on c, c on a.
WITH edges AS (
    SELECT execution_id, source_task_id AS source, target_task_id AS target
    FROM task_relationships
    WHERE relationship_type = 'depends_on'
        AND (:execution_id IS NULL OR execution_id = :execution_id)
),
reach(execution_id, origin, node) AS (
    SELECT execution_id, source, target FROM edges
    UNION
    SELECT r.execution_id, r.origin, e.target
    FROM reach AS r
    JOIN edges AS e ON e.execution_id = r.execution_id AND e.source = r.node
),
cycle_edges AS (
    SELECT e.execution_id, e.source, e.target
    FROM edges AS e
    JOIN reach AS back
        ON back.execution_id = e.execution_id AND back.origin = e.target AND back.node = e.source
),
walks(execution_id, start, node, length, visited, path) AS (
    SELECT execution_id, source, source, 1, char(31) || source || char(31), source
    FROM (SELECT DISTINCT execution_id, source FROM cycle_edges)
    UNION ALL
    SELECT
        w.execution_id,
        w.start,
        c.target,
        w.length + 1,
        w.visited || c.target || char(31),
        w.path || ' -> ' || c.target
    FROM walks AS w
    JOIN cycle_edges AS c ON c.execution_id = w.execution_id AND c.source = w.node
    WHERE (w.length = 1 OR w.node <> w.start)  -- a walk back at its start is a found cycle
        AND w.length <= :max_length
        AND (
            c.target = w.start
            OR (c.target > w.start AND instr(w.visited, char(31) || c.target || char(31)) = 0)
        )
)
SELECT execution_id, start AS cycle_start, length - 1 AS cycle_length, path
FROM walks
WHERE node = start AND length > 1
ORDER BY execution_id, cycle_start, path
