"""``otel-obs mcp``: the SQL tools and the spec's methods as an MCP server.

:mod:`.catalog` turns the registry's tools and the ObservabilitySkills methods
into MCP tools (schemas, descriptions, argument checks); :mod:`.server` serves
them with the official ``mcp`` SDK; :mod:`.client_config` writes the client
configuration Claude Code reads (``.mcp.json``).
"""
