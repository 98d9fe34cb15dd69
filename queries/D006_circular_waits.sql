-- id: D006
-- title: Circular waits
-- family: anomaly
-- param: execution_id text?
-- param: max_length int = 32
-- returns: execution_id, cycle_start, cycle_length, path, tasks_in_group
-- purpose: Tasks that wait on each other in a circle, so none of them can ever start.

-- Edges are task_relationships 'depends_on' rows (source waits on target); without an
-- execution id every execution is searched. Tasks that all wait on each other (directly or
-- through others) form one group; each group is reported once, from its smallest task id (its
-- "start"), with the shortest cycle through that start (the smallest next task at every step
-- among the shortest) and how many tasks the group holds. Groups whose shortest cycle is longer
-- than max_length tasks are left out.
-- Every step works on sets of distinct pairs or (start, task, distance) triples built with
-- UNION, never on the paths themselves: a dense graph has exponentially many simple cycles,
-- but this costs at most tasks x dependencies steps.
-- 1. reach: the tasks each task waits on, directly or not. A task that reaches itself is on a
--    cycle; the tasks it reaches that also reach it are its group.
-- 2. distance: from every task of a group, how many steps it takes to get back to the start.
-- 3. walk: from the start, always to the smallest task one step closer to the start.
-- path reads "a -> b -> c -> a": a waits on b, b on c, c on a.
WITH edges AS (
    SELECT DISTINCT execution_id, source_task_id AS source, target_task_id AS target
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
membership AS (
    -- each task on a cycle, with its group's start (the smallest task it reaches both ways)
    SELECT r.execution_id, r.origin AS node, MIN(r.node) AS start
    FROM reach AS r
    JOIN reach AS back
        ON back.execution_id = r.execution_id AND back.origin = r.node AND back.node = r.origin
    GROUP BY r.execution_id, r.origin
),
cycle_groups AS (
    SELECT execution_id, start, COUNT(*) AS size
    FROM membership
    GROUP BY execution_id, start
),
distance(execution_id, start, node, steps) AS (
    SELECT execution_id, start, start, 0 FROM cycle_groups
    UNION
    SELECT d.execution_id, d.start, e.source, d.steps + 1
    FROM distance AS d
    JOIN edges AS e ON e.execution_id = d.execution_id AND e.target = d.node
    JOIN membership AS m
        ON m.execution_id = d.execution_id AND m.node = e.source AND m.start = d.start
    JOIN cycle_groups AS g ON g.execution_id = d.execution_id AND g.start = d.start
    WHERE e.source <> d.start AND d.steps + 1 < MIN(g.size, :max_length)
),
shortest AS (
    SELECT execution_id, start, node, MIN(steps) AS steps
    FROM distance
    GROUP BY execution_id, start, node
),
cycles AS (
    -- the length of the shortest cycle through each start: one step out, then back
    SELECT s.execution_id, s.start, MIN(s.steps) + 1 AS length
    FROM edges AS e
    JOIN shortest AS s
        ON s.execution_id = e.execution_id AND s.start = e.source AND s.node = e.target
    GROUP BY s.execution_id, s.start
),
next_hop AS (
    -- from a task, the smallest task it waits on that is one step closer to the start
    SELECT here.execution_id, here.start, here.node, MIN(e.target) AS next_task
    FROM shortest AS here
    JOIN edges AS e ON e.execution_id = here.execution_id AND e.source = here.node
    JOIN shortest AS there
        ON there.execution_id = here.execution_id
        AND there.start = here.start
        AND there.node = e.target
        AND there.steps = here.steps - 1
    WHERE here.node <> here.start
    GROUP BY here.execution_id, here.start, here.node
),
first_hop AS (
    SELECT c.execution_id, c.start, c.length, MIN(e.target) AS next_task
    FROM cycles AS c
    JOIN edges AS e ON e.execution_id = c.execution_id AND e.source = c.start
    JOIN shortest AS s
        ON s.execution_id = c.execution_id
        AND s.start = c.start
        AND s.node = e.target
        AND s.steps = c.length - 1
    WHERE c.length <= :max_length
    GROUP BY c.execution_id, c.start, c.length
),
walk(execution_id, start, length, node, remaining, path) AS (
    SELECT execution_id, start, length, next_task, length - 1, start || ' -> ' || next_task
    FROM first_hop
    UNION ALL
    SELECT w.execution_id, w.start, w.length, h.next_task, w.remaining - 1, w.path || ' -> ' || h.next_task
    FROM walk AS w
    JOIN next_hop AS h
        ON h.execution_id = w.execution_id AND h.start = w.start AND h.node = w.node
    WHERE w.remaining > 0
)
SELECT w.execution_id, w.start AS cycle_start, w.length AS cycle_length, w.path,
    g.size AS tasks_in_group
FROM walk AS w
JOIN cycle_groups AS g ON g.execution_id = w.execution_id AND g.start = w.start
WHERE w.remaining = 0
ORDER BY w.execution_id, w.start
