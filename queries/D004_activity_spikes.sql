-- id: D004
-- title: Activity spikes
-- family: anomaly
-- param: execution_id text
-- param: factor float = 2.0
-- returns: minute, events, mean_per_minute, ratio
-- purpose: Minutes in which an execution logged far more transcript entries than usual.

-- Events are transcript entries, counted per UTC minute. The mean is over ACTIVE minutes
-- (minutes with at least one entry), so idle stretches do not make every busy minute a spike.
-- A minute is a spike when its count exceeds factor * mean; ratio = events / mean.
WITH per_minute AS (
    SELECT strftime('%Y-%m-%dT%H:%M:00Z', timestamp) AS minute, COUNT(*) AS events
    FROM transcript_entries
    WHERE execution_id = :execution_id
    GROUP BY minute
),
mean AS (
    SELECT AVG(events) AS mean_per_minute FROM per_minute
)
SELECT
    p.minute,
    p.events,
    ROUND(m.mean_per_minute, 3) AS mean_per_minute,
    ROUND(p.events / m.mean_per_minute, 2) AS ratio
FROM per_minute AS p, mean AS m
WHERE p.events > :factor * m.mean_per_minute
ORDER BY p.minute
