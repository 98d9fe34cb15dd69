"""The SQL tools: one ``.sql`` file per tool, and the registry that loads them."""
