"""A replay ``Transport`` for the Claude Agent SDK: recorded CLI streams, no CLI.

The SDK speaks to the Claude Code CLI in stream-json lines over a
:class:`claude_agent_sdk.Transport`. :class:`ReplayTransport` plays the CLI's
side of that conversation from a script:

* it answers the SDK's ``initialize`` control request (and learns which hook
  callback ids the SDK registered for which event);
* once the SDK has written the user's prompt, it plays the script: a message
  (a dict, exactly as the CLI prints it) is handed to the SDK; a
  :class:`Hook` step sends a ``hook_callback`` control request to every
  callback registered for that event and waits for the SDK's answers before
  going on, as the CLI waits for its hooks;
* after the last step it ends the stream.

The streams below follow what the CLI prints (``system``/``init``,
``assistant`` with ``tool_use`` blocks, ``user`` with ``tool_result`` blocks,
``result`` with ``permission_denials``), field for field as the SDK's message
parser reads them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from claude_agent_sdk import Transport

SESSION = "0b7c3b7e-5f0e-4bb5-9f8e-3f1d2c4a5b6c"
MODEL = "claude-sonnet-4-5-20250929"


@dataclass
class Hook:
    """A hook the CLI fires at this point of the stream."""

    event: str
    payload: dict[str, Any]
    #: The whole hook input as the CLI sent it (a recorded hook), else built from ``payload``.
    recorded: dict[str, Any] | None = None

    def request_input(self) -> dict[str, Any]:
        if self.recorded is not None:
            return self.recorded
        return {
            "session_id": SESSION,
            "transcript_path": f"/tmp/{SESSION}.jsonl",
            "cwd": "/work",
            "hook_event_name": self.event,
            **self.payload,
        }


@dataclass
class ReplayTransport(Transport):
    script: list[Any]
    #: Hook callback ids the SDK registered, by event.
    callbacks: dict[str, list[str]] = field(default_factory=dict)
    #: Answers the SDK gave to our hook_callback requests, in order.
    hook_answers: list[dict[str, Any]] = field(default_factory=list)
    written: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[dict[str, Any]](100)
        self._answers: dict[str, anyio.Event] = {}
        self._ready = False
        self._started = False
        self._counter = 0

    async def connect(self) -> None:
        self._ready = True

    def is_ready(self) -> bool:
        return self._ready

    async def write(self, data: str) -> None:
        for line in data.splitlines():
            if not line.strip():
                continue
            message = json.loads(line)
            self.written.append(message)
            kind = message.get("type")
            if kind == "control_request":
                await self._control(message)
            elif kind == "control_response":
                response = message["response"]
                self.hook_answers.append(response)
                event = self._answers.pop(response["request_id"], None)
                if event is not None:
                    event.set()
            elif kind == "user" and not self._started:
                self._started = True
                self._task_group_start(self._play)

    def _task_group_start(self, play: Any) -> None:
        # The SDK reads messages in its own task group; the script plays in a
        # task of ours, started from the event loop the SDK runs in.
        import asyncio

        asyncio.get_running_loop().create_task(play())

    async def _control(self, message: dict[str, Any]) -> None:
        request = message["request"]
        if request.get("subtype") == "initialize":
            for event, matchers in (request.get("hooks") or {}).items():
                for matcher in matchers:
                    self.callbacks.setdefault(event, []).extend(matcher["hookCallbackIds"])
            await self._send.send(
                {
                    "type": "control_response",
                    "response": {
                        "subtype": "success",
                        "request_id": message["request_id"],
                        "response": {"commands": [], "models": []},
                    },
                }
            )
        else:
            await self._send.send(
                {
                    "type": "control_response",
                    "response": {
                        "subtype": "success",
                        "request_id": message["request_id"],
                        "response": {},
                    },
                }
            )

    async def _play(self) -> None:
        for step in self.script:
            if isinstance(step, Hook):
                await self._fire(step)
            else:
                await self._send.send(step)
        await self._send.aclose()

    async def _fire(self, hook: Hook) -> None:
        for callback_id in self.callbacks.get(hook.event, []):
            self._counter += 1
            request_id = f"cli_req_{self._counter}"
            done = self._answers[request_id] = anyio.Event()
            await self._send.send(
                {
                    "type": "control_request",
                    "request_id": request_id,
                    "request": {
                        "subtype": "hook_callback",
                        "callback_id": callback_id,
                        "input": hook.request_input(),
                        "tool_use_id": hook.payload.get("tool_use_id"),
                    },
                }
            )
            with anyio.fail_after(10):
                await done.wait()

    async def read_messages(self) -> AsyncIterator[dict[str, Any]]:
        async with self._receive:
            async for message in self._receive:
                yield message

    async def end_input(self) -> None:
        pass

    async def close(self) -> None:
        self._ready = False


def load_recording(path: Path) -> list[Any]:
    """A stream recorded from the real CLI: its lines, with each hook it fired as a :class:`Hook`.

    Recorded lines are the CLI's stdout, except control traffic; a hook the
    CLI fired is kept as ``{"type": "hook", "event": ..., "input": ...,
    "tool_use_id": ...}`` (callback ids differ from session to session).
    """
    steps: list[Any] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item.get("type") == "hook":
            payload = {"tool_use_id": item.get("tool_use_id")}
            steps.append(Hook(item["event"], payload, recorded=item["input"]))
        else:
            steps.append(item)
    return steps


# --------------------------------------------------------------------------
# stream lines, as the CLI prints them
# --------------------------------------------------------------------------


def init() -> dict[str, Any]:
    return {
        "type": "system",
        "subtype": "init",
        "session_id": SESSION,
        "cwd": "/work",
        "model": MODEL,
        "tools": ["Bash", "Read", "Write", "Task"],
        "permissionMode": "default",
        "apiKeySource": "ANTHROPIC_API_KEY",
    }


def assistant(*blocks: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
    return {
        "type": "assistant",
        "message": {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": list(blocks),
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 10, "output_tokens": 5},
        },
        "parent_tool_use_id": parent,
        "session_id": SESSION,
    }


def tool_use(tool_id: str, name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_results(*results: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
    return {
        "type": "user",
        "message": {"role": "user", "content": list(results)},
        "parent_tool_use_id": parent,
        "session_id": SESSION,
    }


def tool_result(tool_id: str, content: Any, is_error: bool = False) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": content, "is_error": is_error}


def result(
    *, is_error: bool = False, denials: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "type": "result",
        "subtype": "error_during_execution" if is_error else "success",
        "duration_ms": 2400,
        "duration_api_ms": 1800,
        "is_error": is_error,
        "num_turns": 3,
        "session_id": SESSION,
        "total_cost_usd": 0.0421,
        "usage": {
            "input_tokens": 1200,
            "output_tokens": 340,
            "cache_read_input_tokens": 800,
            "cache_creation_input_tokens": 100,
        },
        "result": "Done.",
        "permission_denials": denials or [],
    }


def pre(tool_id: str, name: str, tool_input: dict[str, Any]) -> Hook:
    return Hook("PreToolUse", {"tool_name": name, "tool_input": tool_input, "tool_use_id": tool_id})


def post(tool_id: str, name: str, tool_input: dict[str, Any], response: Any) -> Hook:
    return Hook(
        "PostToolUse",
        {
            "tool_name": name,
            "tool_input": tool_input,
            "tool_response": response,
            "tool_use_id": tool_id,
        },
    )


def failure(tool_id: str, name: str, tool_input: dict[str, Any], error: str) -> Hook:
    return Hook(
        "PostToolUseFailure",
        {"tool_name": name, "tool_input": tool_input, "tool_use_id": tool_id, "error": error},
    )


async def deny_rm(payload: Any, tool_use_id: Any, ctx: Any) -> dict[str, Any]:
    """A PreToolUse hook that denies ``rm -rf`` ("destructive command") and allows the rest."""
    if "rm -rf" in str(payload.get("tool_input")):
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": "destructive command",
            }
        }
    return {}
