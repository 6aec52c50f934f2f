"""A JSON-RPC proxy on 127.0.0.1 for tests: forwards to a real node, can hide methods or fail.

It stands in front of a real anvil or bcoin, so the indexer talks to real node answers while the
test decides what the network does to them: methods the node "does not offer" (answered -32601, as
geth without the debug namespace does), HTTP errors, dropped connections, eth_getLogs limits, and
(through ``ProxyRules.faults``, see tests/faults.py) any fault of :data:`FAULT_KINDS` at random.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

#: What the proxy can do to one request (see :meth:`RpcProxy._apply`).
FAULT_KINDS = (
    "latency",  # answer correctly, late
    "drop",  # close the connection without an answer
    "http_429",  # HTTP 429 with Retry-After
    "http_5xx",  # HTTP 500, 502 or 503
    "truncated",  # the node's answer cut short
    "invalid_json",  # an HTML error page with status 200
    "rpc_error",  # a JSON-RPC error object (internal error / header not found) for one call
    "wrong_id",  # a batch answer where one call has another id
    "too_many_results",  # eth_getLogs over more than one block: -32005 "more than N results"
)


@dataclass
class ProxyRules:
    """What the proxy does to requests; tests change these between calls."""

    hidden_methods: set[str] = field(default_factory=set)
    #: eth_getLogs over more than this many blocks answers -32005 "query returned more than ..."
    max_log_span: int | None = None
    #: Called with each parsed request; may return (status, body) to answer instead of the node.
    intercept: Callable[[Any], tuple[int, bytes] | None] | None = None
    #: Called with each parsed request; may return one of FAULT_KINDS to inflict on it.
    faults: Callable[[Any], str | None] | None = None
    seen: list[str] = field(default_factory=list)


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


class RpcProxy:
    """Start with ``with RpcProxy(upstream) as proxy:``; ``proxy.url`` is what clients use.

    ``upstream`` may carry basic-auth credentials in its userinfo (bcoin's API key).
    """

    def __init__(self, upstream: str, rules: ProxyRules | None = None, path: str = "/") -> None:
        self.upstream = upstream
        self.rules = rules or ProxyRules()
        self.path = path
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                reply = proxy._handle(self.path, body)
                if reply.drop:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                # A client killed mid-request (the crash tests do that) is not the proxy's error.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(reply.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._session = requests.Session()
        self._lock = threading.Lock()
        self._rng = random.Random(0)

    def __enter__(self) -> RpcProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, path: str, body: bytes) -> _Reply:
        with self._lock:
            self.requests += 1
        try:
            request = json.loads(body)
        except ValueError:
            return _Reply(400, b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse"}}')
        if self.rules.intercept is not None:
            custom = self.rules.intercept(request)
            if custom is not None:
                return _Reply(*custom)
        fault = self.rules.faults(request) if self.rules.faults is not None else None
        if fault is not None:
            early = self._fault_before(fault, request)
            if early is not None:
                return early
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
            upstream = self._session.post(self.upstream, json=forward, timeout=120).json()
            if isinstance(upstream, dict):  # bcoin answers a one-call batch with an object
                upstream = [upstream]
            for answer in upstream:
                answers[answer.get("id")] = answer
        ordered = [answers[item.get("id")] for item in items]
        if fault is not None:
            ordered = self._fault_after(fault, items, ordered)
        result = ordered if isinstance(request, list) else ordered[0]
        text = json.dumps(result).encode()
        if fault == "truncated":
            text = text[: self._rng.randrange(0, max(1, len(text) - 1))]
        return _Reply(200, text)

    def _fault_before(self, fault: str, request: Any) -> _Reply | None:
        """Faults answered without asking the node (None: ask it, then maybe spoil the answer)."""
        if fault == "latency":
            time.sleep(self._rng.uniform(0.01, 0.3))
        elif fault == "drop":
            return _Reply(0, b"", drop=True)
        elif fault == "http_429":
            return _Reply(429, b"rate limited", {"Retry-After": "1"})
        elif fault == "http_5xx":
            status = self._rng.choice((500, 502, 503))
            return _Reply(status, f"<html>{status} upstream error</html>".encode())
        elif fault == "invalid_json":
            return _Reply(200, b"<html><body>502 Bad Gateway (nginx)</body></html>")
        return None

    def _fault_after(self, fault: str, items: list[Any], answers: list[Any]) -> list[Any]:
        """Spoil one call's answer: an error object, another id, or a log-limit error."""
        answers = list(answers)
        if fault == "rpc_error":
            k = self._rng.randrange(len(answers))
            code, message = self._rng.choice(
                ((-32603, "internal error"), (-32000, "header not found"))
            )
            answers[k] = _error(items[k], code, message)
        elif fault == "wrong_id":
            k = self._rng.randrange(len(answers))
            answers[k] = {**answers[k], "id": _other_id(items[k].get("id"))}
        elif fault == "too_many_results":
            for k, item in enumerate(items):
                if item.get("method") == "eth_getLogs":
                    answers[k] = _error(item, -32005, "query returned more than 10000 results")
        return answers

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


def _other_id(value: Any) -> Any:
    return value + 1_000_003 if isinstance(value, int) else f"{value}-other"


def _error(item: dict[str, Any], code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": item.get("id"), "error": {"code": code, "message": message}}
