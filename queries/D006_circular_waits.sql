-- id: D006
-- title: Circular waits
-- family: anomaly
-- param: execution_id text?
-- param: max_length int = 32
-- returns: execution_id, cycle_start, cycle_length, path
-- purpose: Tasks that wait on each other in a circle, so none of them can ever start.

-- Edges are task_relationships 'depends_on' rows (source waits on target); without an
-- execution id every execution is searched. Each cycle is reported once, from its smallest task
-- id (its "start"), so every search below moves only through tasks with ids above the start:
-- 1. forward: the tasks each start reaches that way (a set built with UNION, so it ends even
--    on cycles). A start lies on a cycle when it reaches itself.
-- 2. backward: for those starts, the tasks that reach back to the start the same way. Tasks in
--    both sets are the ones on some cycle through the start.
-- 3. walks: simple paths from each start through those tasks only, closed when they return to
--    the start, at most max_length tasks long.
-- path reads "a -> b -> c -> a": a waits on b, b on c, c on a.
WITH edges AS (
    SELECT execution_id, source_task_id AS source, target_task_id AS target
    FROM task_relationships
    WHERE relationship_type = 'depends_on'
        AND (:execution_id IS NULL OR execution_id = :execution_id)
),
forward(execution_id, origin, node) AS (
    SELECT execution_id, source, target FROM edges WHERE target >= source
    UNION
    SELECT f.execution_id, f.origin, e.target
    FROM forward AS f
    JOIN edges AS e ON e.execution_id = f.execution_id AND e.source = f.node
    WHERE f.node <> f.origin AND e.target >= f.origin
),
starts AS (
    SELECT execution_id, origin FROM forward WHERE node = origin
),
backward(execution_id, origin, node) AS (
    SELECT s.execution_id, s.origin, s.origin FROM starts AS s
    UNION
    SELECT b.execution_id, b.origin, e.source
    FROM backward AS b
    JOIN edges AS e ON e.execution_id = b.execution_id AND e.target = b.node
    WHERE e.source > b.origin
),
members AS (
    SELECT f.execution_id, f.origin, f.node
    FROM forward AS f
    JOIN backward AS b
        ON b.execution_id = f.execution_id AND b.origin = f.origin AND b.node = f.node
),
walks(execution_id, start, node, length, visited, path) AS (
    SELECT execution_id, origin, origin, 1, char(31) || origin || char(31), origin
    FROM starts
    UNION ALL
    SELECT
        w.execution_id,
        w.start,
        e.target,
        w.length + 1,
        w.visited || e.target || char(31),
        w.path || ' -> ' || e.target
    FROM walks AS w
    JOIN edges AS e ON e.execution_id = w.execution_id AND e.source = w.node
    WHERE (w.length = 1 OR w.node <> w.start)  -- a walk back at its start is a found cycle
        AND w.length <= :max_length
        AND (
            e.target = w.start
            OR (
                instr(w.visited, char(31) || e.target || char(31)) = 0
                AND EXISTS (
                    SELECT 1 FROM members AS m
                    WHERE m.execution_id = w.execution_id
                        AND m.origin = w.start
                        AND m.node = e.target
                )
            )
        )
)
SELECT execution_id, start AS cycle_start, length - 1 AS cycle_length, path
FROM walks
WHERE node = start AND length > 1
ORDER BY execution_id, cycle_start, path
