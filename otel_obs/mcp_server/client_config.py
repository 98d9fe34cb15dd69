"""The MCP client configuration Claude Code reads: ``.mcp.json`` with an ``otel-obs`` server.

Claude Code loads project-scoped MCP servers from ``.mcp.json`` at the project
root (the folder holding ``.claude/``). ``otel-obs skills install`` writes it
there next to the skills, so an agent gets the same diagnoses as MCP tools
that the skills give it as shell commands. Other servers already in the file
are kept; a file that is not a JSON object is refused, never overwritten.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..store_location import StoreLocation, written_reference

CONFIG_FILE = ".mcp.json"
SERVER_KEY = "otel-obs"


def config_path(skills_dir: Path) -> Path:
    """``<project>/.mcp.json`` for ``<project>/.claude/skills``; else inside ``skills_dir``."""
    skills_dir = Path(skills_dir)
    if skills_dir.name == "skills" and skills_dir.parent.name == ".claude":
        return skills_dir.parent.parent / CONFIG_FILE
    return skills_dir / CONFIG_FILE


def server_entry(db: StoreLocation | None) -> dict[str, Any]:
    """The stdio server entry: ``otel-obs mcp``, with ``--db`` when a store is named
    (a server's URL without its password)."""
    args = ["mcp"] if db is None else ["mcp", "--db", written_reference(db)]
    return {"type": "stdio", "command": "otel-obs", "args": args}


def write_claude_config(skills_dir: Path, db: StoreLocation | None = None) -> Path:
    """Add (or refresh) the otel-obs server in the ``.mcp.json`` next to ``skills_dir``."""
    path = config_path(skills_dir)
    config: Any = {}
    if path.is_file():
        try:
            config = json.loads(path.read_text(encoding="utf-8") or "{}")
        except ValueError as error:
            raise ValueError(f"{path}: not valid JSON ({error}); fix or remove it") from None
        if not isinstance(config, dict) or not isinstance(config.get("mcpServers", {}), dict):
            raise ValueError(f"{path}: expected a JSON object with an 'mcpServers' object")
    config.setdefault("mcpServers", {})[SERVER_KEY] = server_entry(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path
