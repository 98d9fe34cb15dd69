"""A scripted Anthropic Messages API on 127.0.0.1, for running the real Claude Code CLI.

The CLI streams ``POST /v1/messages`` (server-sent events). The server answers
each request of a conversation with the next turn of its script: a turn is a
list of content blocks (``tool_use`` or ``text``), and the next one is the
conversation's count of assistant messages so far. A subagent's conversation
(its first message holds a marker) follows a script of its own, and side
requests the CLI makes on its own (titles, checks: any request without tools)
get a short text answer. Every request is kept for the test to read.
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
from typing import Any

Block = dict[str, Any]


def tool_use(tool_id: str, name: str, tool_input: dict[str, Any]) -> Block:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}


def text(value: str) -> Block:
    return {"type": "text", "text": value}


def _events(blocks: list[Block], model: str, counter: int) -> list[tuple[str, dict[str, Any]]]:
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    usage = {"input_tokens": 100, "output_tokens": 20}
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_scripted_{counter}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {**usage, "output_tokens": 1},
                },
            },
        )
    ]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            ),
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]
    events += [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


class ScriptedMessagesAPI:
    """Serves ``turns`` to the main conversation, in order; the last turn repeats.

    ``subagents`` maps a marker to the turns of a conversation whose first user
    message contains it (a subagent started with that marker in its prompt).
    A conversation's next turn is its count of assistant messages so far.
    """

    def __init__(
        self, turns: list[list[Block]], subagents: dict[str, list[list[Block]]] | None = None
    ) -> None:
        self.turns = turns
        self.subagents = subagents or {}
        self.requests: list[dict[str, Any]] = []
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path = self.path.split("?")[0]
                if path.endswith("/count_tokens"):
                    self._json({"input_tokens": 100})
                    return
                if not path.endswith("/v1/messages"):
                    self._json({"type": "error", "error": {"type": "not_found_error"}}, 404)
                    return
                blocks = api.answer(body)
                model = body.get("model") or "claude-scripted"
                events = _events(blocks, model, next(api._counter))
                if body.get("stream"):
                    payload = "".join(
                        f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events
                    ).encode()
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                else:
                    message = dict(events[0][1]["message"])
                    message.update(
                        content=blocks,
                        stop_reason=events[-2][1]["delta"]["stop_reason"],
                        usage={"input_tokens": 100, "output_tokens": 20},
                    )
                    self._json(message)

            def do_GET(self) -> None:  # noqa: N802
                self._json({"data": [], "has_more": False})

            def do_HEAD(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def _json(self, data: dict[str, Any], status: int = 200) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, body: dict[str, Any]) -> list[Block]:
        """The next turn for a request of the main conversation (one with tools)."""
        with self._lock:
            self.requests.append(body)
            if not body.get("tools"):
                return [text("ok")]
            messages = body.get("messages") or []
            first = json.dumps(messages[0].get("content")) if messages else ""
            turns = next(
                (script for marker, script in self.subagents.items() if marker in first),
                self.turns,
            )
            done = sum(1 for m in messages if m.get("role") == "assistant")
            return turns[min(done, len(turns) - 1)]

    def __enter__(self) -> ScriptedMessagesAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
