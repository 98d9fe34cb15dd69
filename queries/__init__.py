"""The query side: the SQL tools and everything that reads the store for them.

One ``.sql`` file per tool and the registry that loads them
(:mod:`.registry`); ``ObservabilitySkills``, which runs them (:mod:`.runner`);
read-only, time-bound connections to a SQLite file or a PostgreSQL database
(:mod:`.readonly`) and each tool's SQL in PostgreSQL's dialect (:mod:`.dialects`,
translated from the one SQLite text); the typed results of the
diagnosis methods (:mod:`.results`) and their conversion to plain JSON
(:mod:`.jsonable`); the reads beyond the tools (:mod:`.listings`: executions, what
made no row) and the comparison of two runs (:mod:`.diff`). Nothing here writes the
store or imports the producers.
"""
