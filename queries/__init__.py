"""The query side: the SQL tools and everything that reads the store for them.

One ``.sql`` file per tool and the registry that loads them
(:mod:`.registry`); ``ObservabilitySkills``, which runs them (:mod:`.runner`);
read-only, time-bound connections (:mod:`.readonly`); the typed results of the
diagnosis methods (:mod:`.results`) and their conversion to plain JSON
(:mod:`.jsonable`). Nothing here writes the store or imports the producers.
"""
