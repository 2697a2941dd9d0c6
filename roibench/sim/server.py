"""A minimal, fast HTTP/1.1 server speaking OpenAI Chat Completions on loopback.

Hand-written on asyncio streams (keep-alive, Content-Length and chunked SSE) so that the
simulator is never the bottleneck of a benchmark and needs no web framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterable
from typing import Any

from roibench.config.tasks import Task
from roibench.core.faults import ATTEMPT_HEADER, FAULTS_HEADER, TIMEOUT_HEADER, FaultSpec
from roibench.sim.player import UNKNOWN_TOOLS, SimPlayer, ToolTraits, fingerprint, unit_hash
from roibench.sim.profiles import PROFILES, profile_for_model

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_STATUS_FAULTS = (
    ("rate_limit", 429, "rate_limit_exceeded"),
    ("server_error", 500, "server_error"),
    ("bad_gateway", 502, "bad_gateway"),
    ("unavailable", 503, "service_unavailable"),
)
MAX_BODY = 32 * 1024 * 1024


def _client_timeout(headers: dict[str, str]) -> float | None:
    """The timeout the client says it waits, if it says so."""
    try:
        return float(headers[TIMEOUT_HEADER])
    except (KeyError, ValueError):
        return None


def _error(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class SimServer:
    """The simulator as an HTTP server. `await start()` in a running loop, or
    `start_in_thread()` from synchronous code; `base_url` is then the /v1 URL."""

    def __init__(
        self,
        tasks: Iterable[Task] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: FaultSpec | None = None,
        api_key: str | None = None,
        latency_s: float | None = None,
        traits: ToolTraits = UNKNOWN_TOOLS,
    ) -> None:
        self.player = SimPlayer(tasks, traits)
        """Register more tasks (with their workflow's `ToolTraits`) on `player.register`."""
        self.host = host
        self.port = port
        self.faults = faults or FaultSpec()
        self.api_key = api_key
        self.latency_s = latency_s
        """Fixed response latency for every profile (benchmarks); None = the profile's own."""
        self.requests = 0
        """Chat-completion requests received (any answer, faults included)."""
        self.faults_injected = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def stats(self) -> dict[str, int]:
        """What the simulator has served so far (`GET /stats` returns it as JSON)."""
        return {"requests": self.requests, "faults_injected": self.faults_injected}

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL."""
        return f"http://{self.host}:{self.port}/v1"

    async def start(self) -> None:
        """Listen on host:port (port 0 = a free port, then stored in `port`)."""
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, limit=MAX_BODY
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close connections."""
        if self._server is not None:
            self._server.close()
            # Python 3.11 has no Server.close_clients(): cancel keep-alive handlers ourselves
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        """Start and serve until cancelled."""
        await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    def start_in_thread(self) -> SimServer:
        """Run in a daemon thread with its own event loop; returns once listening."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="roibench-sim", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)
        return self

    def stop_thread(self) -> None:
        """Stop a server started with start_in_thread()."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._thread = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        me = asyncio.current_task()
        if me is not None:
            self._connections.add(me)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) < 2:
                    return
                method, target = parts[0], parts[1]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length > MAX_BODY:
                    await self._send_json(
                        writer, 413, _error("body too large", "invalid_request_error")
                    )
                    return
                body = await reader.readexactly(length) if length else b""
                keep_alive = headers.get("connection", "").lower() != "close"
                alive = await self._route(writer, method, target.split("?")[0], body, headers)
                if not (keep_alive and alive):
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            if me is not None:
                self._connections.discard(me)
            with contextlib.suppress(Exception):
                writer.close()

    async def _route(
        self,
        writer: asyncio.StreamWriter,
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
    ) -> bool:
        """Answer one request; False when the connection must be dropped."""
        path = path.rstrip("/")
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            given = headers.get("authorization", "").removeprefix("Bearer ")
            # like real providers (DeepSeek's 401 names the key), echo what was sent: the
            # client side must redact it
            await self._send_json(
                writer,
                401,
                _error(
                    f"Authentication Fails, Your api key: {given} is invalid",
                    "authentication_error",
                    "invalid_api_key",
                ),
            )
            return True
        if path in ("/v1/stats", "/stats") and method == "GET":
            # what the simulator served, so a benchmark can prove two clients made the same
            # requests (counted here, not by the clients)
            await self._send_json(writer, 200, self.stats())
            return True
        if path in ("/v1/models", "/models") and method == "GET":
            data = [{"id": f"sim/{n}", "object": "model", "owned_by": "roibench"} for n in PROFILES]
            await self._send_json(writer, 200, {"object": "list", "data": data})
            return True
        if path not in ("/v1/chat/completions", "/chat/completions"):
            await self._send_json(writer, 404, _error(f"no route {path}", "invalid_request_error"))
            return True
        if method != "POST":
            await self._send_json(writer, 405, _error("use POST", "invalid_request_error"))
            return True
        self.requests += 1
        try:
            request = json.loads(body)
            if not isinstance(request, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as exc:
            await self._send_json(
                writer, 400, _error(f"invalid JSON body: {exc}", "invalid_request_error")
            )
            return True
        model = str(request.get("model", ""))
        profile = profile_for_model(model)
        if profile is None:
            known = ", ".join(f"sim/{n}" for n in PROFILES)
            await self._send_json(
                writer,
                404,
                _error(
                    f"The model `{model}` does not exist; try {known}",
                    "invalid_request_error",
                    "model_not_found",
                ),
            )
            return True
        faults = self.faults
        if FAULTS_HEADER in headers:
            try:
                faults = FaultSpec.parse(headers[FAULTS_HEADER])
            except ValueError as exc:
                await self._send_json(writer, 400, _error(str(exc), "invalid_request_error"))
                return True
        # draw on the conversation as sent: a retried step after a garbled call is a new draw
        draw = _FaultDraw(faults, request, headers.get(ATTEMPT_HEADER, "0"))
        messages = _without_malformed_turns(request.get("messages") or [])
        request = {**request, "messages": messages}
        if draw.hit("connection_reset"):
            self.faults_injected += 1
            writer.transport.abort()
            return False
        for kind, status, type_ in _STATUS_FAULTS:
            if draw.hit(kind):
                self.faults_injected += 1
                extra = {"Retry-After": f"{faults.retry_after_s:g}"} if status == 429 else {}
                await self._send_json(
                    writer, status, _error(f"simulated {status}", type_, type_), extra
                )
                return True
        response, _deviation = self.player.respond(request, profile)
        output_tokens = response["usage"]["completion_tokens"]
        if self.latency_s is not None:
            delay = self.latency_s
        else:
            delay = profile.latency_s * (0.75 + 0.5 * unit_hash(response["id"]))
            if profile.output_tokens_per_s > 0:
                delay += output_tokens / profile.output_tokens_per_s
        if draw.hit("slow"):
            self.faults_injected += 1
            delay += faults.slow_delay_s(_client_timeout(headers))
        if delay > 0:
            await asyncio.sleep(delay)
        self.faults_injected += _corrupt(response, draw)
        if request.get("stream"):
            await self._send_stream(
                writer, response, bool((request.get("stream_options") or {}).get("include_usage"))
            )
        else:
            await self._send_json(writer, 200, response)
        return True

    @staticmethod
    async def _send_json(
        writer: asyncio.StreamWriter,
        status: int,
        payload: dict[str, Any],
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (extra_headers or {}).items())
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n{extra}\r\n"
        ).encode()
        writer.write(head + data)
        await writer.drain()

    @staticmethod
    async def _send_stream(
        writer: asyncio.StreamWriter, response: dict[str, Any], include_usage: bool
    ) -> None:
        """Server-sent events: a content/tool-call delta, a finish chunk, a usage chunk."""
        choice = response["choices"][0]
        message = choice["message"]
        base = {k: response[k] for k in ("id", "created", "model")} | {
            "object": "chat.completion.chunk"
        }
        delta: dict[str, Any] = {"role": "assistant"}
        if message.get("content"):
            delta["content"] = message["content"]
        if message.get("reasoning_content"):
            delta["reasoning_content"] = message["reasoning_content"]
        if message.get("tool_calls"):
            delta["tool_calls"] = [dict(tc, index=i) for i, tc in enumerate(message["tool_calls"])]
        chunks = [
            base | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
            base
            | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]},
        ]
        if include_usage:
            chunks.append(base | {"choices": [], "usage": response["usage"]})
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for chunk in chunks:
            _write_chunk(writer, f"data: {json.dumps(chunk)}\n\n".encode())
        _write_chunk(writer, b"data: [DONE]\n\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _write_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")


class _FaultDraw:
    """Seeded fault decisions for one request attempt."""

    def __init__(self, faults: FaultSpec, request: dict[str, Any], attempt: str) -> None:
        self.faults = faults
        messages = request.get("messages") or []
        last = json.dumps(messages[-1], sort_keys=True) if messages else ""
        self.key = (request.get("seed") or 0, len(messages), fingerprint(last), attempt)

    def hit(self, kind: str) -> bool:
        rate = float(getattr(self.faults, kind))
        return rate > 0 and unit_hash(*self.key, kind) < rate


def _parses(arguments: object) -> bool:
    try:
        return isinstance(json.loads(str(arguments)), dict)
    except ValueError:
        return False


def _without_malformed_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop assistant turns whose tool-call JSON did not parse, and their tool results, so a
    simulated model that garbled a call retries the same step instead of skipping it."""
    bad_ids: set[str] = set()
    kept: list[dict[str, Any]] = []
    for m in messages:
        calls = m.get("tool_calls") if m.get("role") == "assistant" else None
        if calls and not all(_parses(c.get("function", {}).get("arguments")) for c in calls):
            bad_ids.update(str(c.get("id")) for c in calls)
            continue
        if m.get("role") == "tool" and str(m.get("tool_call_id")) in bad_ids:
            continue
        kept.append(m)
    return kept


def _corrupt(response: dict[str, Any], draw: _FaultDraw) -> int:
    """Apply content and usage faults to a response in place; returns how many were applied."""
    applied = 0
    choice = response["choices"][0]
    message = choice["message"]
    calls = message.get("tool_calls") or []
    if calls and draw.hit("malformed_tool_args"):
        args = calls[0]["function"]["arguments"]
        calls[0]["function"]["arguments"] = args[: max(1, len(args) // 2)]
        applied += 1
    if draw.hit("truncated"):
        choice["finish_reason"] = "length"
        if calls:
            args = calls[0]["function"]["arguments"]
            calls[0]["function"]["arguments"] = args[: max(1, len(args) // 3)]
        elif message.get("content"):
            message["content"] = message["content"][: max(1, len(message["content"]) // 3)]
        applied += 1
    if draw.hit("usage_missing"):
        del response["usage"]
        applied += 1
    elif draw.hit("usage_wrong_type"):
        response["usage"] = {"prompt_tokens": "n/a", "completion_tokens": None, "total_tokens": []}
        applied += 1
    return applied
