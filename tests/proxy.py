"""A JSON-RPC proxy on 127.0.0.1 for tests: forwards to a real node, can hide methods or fail.

It stands in front of a real anvil, so the indexer talks to real node answers while the test
decides what the network does to them: methods the node "does not offer" (answered -32601, as
geth without the debug namespace does), HTTP errors, dropped connections, and eth_getLogs limits.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


@dataclass
class ProxyRules:
    """What the proxy does to requests; tests change these between calls."""

    hidden_methods: set[str] = field(default_factory=set)
    #: eth_getLogs over more than this many blocks answers -32005 "query returned more than ..."
    max_log_span: int | None = None
    #: Called with each parsed request; may return (status, body) to answer instead of the node.
    intercept: Callable[[Any], tuple[int, bytes] | None] | None = None
    seen: list[str] = field(default_factory=list)


class RpcProxy:
    """Start with ``with RpcProxy(upstream) as proxy:``; ``proxy.url`` is what clients use."""

    def __init__(self, upstream: str, rules: ProxyRules | None = None, path: str = "/") -> None:
        self.upstream = upstream
        self.rules = rules or ProxyRules()
        self.path = path
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                status, answer = proxy._handle(self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._session = requests.Session()
        self._lock = threading.Lock()

    def __enter__(self) -> RpcProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            request = json.loads(body)
        except ValueError:
            return 400, b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse"}}'
        if self.rules.intercept is not None:
            custom = self.rules.intercept(request)
            if custom is not None:
                return custom
        items = request if isinstance(request, list) else [request]
        answers: dict[Any, Any] = {}
        forward = []
        for item in items:
            with self._lock:
                self.rules.seen.append(item.get("method", ""))
            local = self._local_answer(item)
            if local is not None:
                answers[item.get("id")] = local
            else:
                forward.append(item)
        if forward:
            upstream = self._session.post(self.upstream, json=forward, timeout=60).json()
            for answer in upstream:
                answers[answer.get("id")] = answer
        ordered = [answers[item.get("id")] for item in items]
        result = ordered if isinstance(request, list) else ordered[0]
        return 200, json.dumps(result).encode()

    def _local_answer(self, item: dict[str, Any]) -> dict[str, Any] | None:
        method = item.get("method")
        if method in self.rules.hidden_methods:
            return _error(item, -32601, f"the method {method} does not exist/is not available")
        if method == "eth_getLogs" and self.rules.max_log_span is not None:
            flt = (item.get("params") or [{}])[0]
            lo, hi = int(flt.get("fromBlock", "0x0"), 16), int(flt.get("toBlock", "0x0"), 16)
            if hi - lo + 1 > self.rules.max_log_span:
                return _error(item, -32005, "query returned more than 10000 results")
        return None


def _error(item: dict[str, Any], code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": item.get("id"), "error": {"code": code, "message": message}}
