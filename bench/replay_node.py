"""A JSON-RPC node that replays a recording from memory, for benchmarks.

A recording (see :func:`save_recording`) holds a chain's block headers and all of its logs, as a
real node (anvil) answered them. :class:`ReplayNode` serves them on ``127.0.0.1`` through a small
threaded HTTP server, fast enough not to be the bottleneck: every log and every header is
serialised once at start, per block, so an ``eth_getLogs`` answer is a join of ready bytes.

Methods: ``eth_chainId``, ``net_version``, ``eth_blockNumber``, ``web3_clientVersion``,
``eth_syncing``, ``eth_getBlockByNumber`` / ``eth_getBlockByHash`` (headers; full transaction
objects only if the recording has them), ``eth_getLogs`` (``fromBlock``/``toBlock`` or
``blockHash``, ``address``, ``topics`` with ``null`` and OR-lists; more than ``log_limit`` results
answer JSON-RPC error -32005 "query returned more than 10000 results", as Infura does),
``eth_newFilter`` / ``eth_getFilterLogs`` / ``eth_getFilterChanges`` / ``eth_uninstallFilter``
(ethereum-etl's ``export_token_transfers`` uses them; geth puts no result limit on filters, so by
default neither does this node), and JSON-RPC batches. ``replay_stats`` / ``replay_resetStats``
report the server's own time.

Run: ``python bench/replay_node.py RECORDING [--port P]``; it prints ``READY <url>`` when serving.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import itertools
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import orjson

RECORDING_FORMAT = "exposure-bench-recording/1"
DEFAULT_LOG_LIMIT = 10_000


# --------------------------------------------------------------------------------------------------
# Recordings
# --------------------------------------------------------------------------------------------------


def save_recording(path: Path, recording: dict[str, Any]) -> None:
    """Write ``recording`` as gzip-compressed JSON (atomically: a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wb", compresslevel=3) as handle:
        handle.write(orjson.dumps({"format": RECORDING_FORMAT, **recording}))
    tmp.replace(path)


def load_recording(path: Path) -> dict[str, Any]:
    """Read a recording written by :func:`save_recording`."""
    with gzip.open(path, "rb") as handle:
        recording: dict[str, Any] = orjson.loads(handle.read())
    if recording.get("format") != RECORDING_FORMAT:
        raise ValueError(f"{path} is not a {RECORDING_FORMAT} recording")
    return recording


# --------------------------------------------------------------------------------------------------
# The chain in memory
# --------------------------------------------------------------------------------------------------


class RpcFailure(Exception):
    """A JSON-RPC error object to answer."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class _BlockLogs:
    """One block's logs, serialised: whole (``joined``) and one by one (``items``)."""

    __slots__ = ("count", "items", "joined", "keys")

    def __init__(self, logs: list[dict[str, Any]]) -> None:
        self.count = len(logs)
        self.items: list[tuple[str, tuple[str, ...], bytes]] = []
        self.keys: set[tuple[str, str | None]] = set()
        for log in logs:
            address = log["address"].lower()
            topics = tuple(t.lower() for t in log["topics"])
            self.items.append((address, topics, orjson.dumps(log)))
            self.keys.add((address, topics[0] if topics else None))
        self.joined = b",".join(item[2] for item in self.items)


class _LogFilter:
    """A parsed eth_getLogs / eth_newFilter filter."""

    __slots__ = ("addresses", "block_hash", "first", "last", "topic0", "topics")

    def __init__(
        self,
        first: int,
        last: int,
        addresses: frozenset[str] | None,
        topics: list[frozenset[str] | None],
        block_hash: str | None,
    ) -> None:
        self.first = first
        self.last = last
        self.addresses = addresses
        self.topics = topics
        self.topic0 = topics[0] if topics else None
        self.block_hash = block_hash

    def key_matches(self, key: tuple[str, str | None]) -> bool:
        """Whether logs with this (address, topic0) pass the address and topic0 conditions."""
        address, topic0 = key
        if self.addresses is not None and address not in self.addresses:
            return False
        return self.topic0 is None or topic0 in self.topic0

    def matches(self, address: str, topics: tuple[str, ...]) -> bool:
        if self.addresses is not None and address not in self.addresses:
            return False
        for position, wanted in enumerate(self.topics):
            if wanted is None:
                continue
            if position >= len(topics) or topics[position] not in wanted:
                return False
        return True


def _lower_set(value: Any, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise RpcFailure(-32602, f"invalid {what}: {value!r}")
    return frozenset(v.lower() for v in values) if values else None


class ReplayChain:
    """A recorded chain, indexed for serving."""

    def __init__(
        self, recording: dict[str, Any], *, log_limit: int | None, filter_limit: int | None
    ):
        self.chain_id = int(recording["chain_id"])
        self.log_limit = log_limit
        self.filter_limit = filter_limit
        headers: list[dict[str, Any]] = recording["blocks"]
        self.first_block = int(headers[0]["number"], 16)
        self.head = int(headers[-1]["number"], 16)
        for offset, header in enumerate(headers):
            if int(header["number"], 16) != self.first_block + offset:
                raise ValueError("the recording's blocks are not consecutive")
        self.headers: list[bytes] = [orjson.dumps(h) for h in headers]
        full = recording.get("full_blocks")
        self.full_blocks: list[bytes] | None = [orjson.dumps(b) for b in full] if full else None
        self.by_hash = {h["hash"].lower(): int(h["number"], 16) for h in headers}
        per_block: list[list[dict[str, Any]]] = [[] for _ in headers]
        for log in recording["logs"]:
            per_block[int(log["blockNumber"], 16) - self.first_block].append(log)
        self.block_logs = [_BlockLogs(logs) for logs in per_block]
        self.n_logs = sum(b.count for b in self.block_logs)

    # -- blocks ----------------------------------------------------------------------------------

    def block_number(self, tag: Any) -> int:
        if isinstance(tag, int) and not isinstance(tag, bool):
            return tag
        if not isinstance(tag, str):
            raise RpcFailure(-32602, f"invalid block tag {tag!r}")
        if tag in ("latest", "safe", "finalized", "pending"):
            return self.head
        if tag == "earliest":
            return self.first_block
        try:
            return int(tag, 16)
        except ValueError:
            raise RpcFailure(-32602, f"invalid block tag {tag!r}") from None

    def block(self, number: int, full: bool) -> bytes:
        if not self.first_block <= number <= self.head:
            return b"null"
        index = number - self.first_block
        if not full:
            return self.headers[index]
        if self.full_blocks is None:
            raise RpcFailure(-32000, "this recording holds headers only, not full transactions")
        return self.full_blocks[index]

    # -- logs ------------------------------------------------------------------------------------

    def parse_filter(self, params: Any) -> _LogFilter:
        if not isinstance(params, dict):
            raise RpcFailure(-32602, "filter must be an object")
        block_hash = params.get("blockHash")
        if block_hash is not None:
            number = self.by_hash.get(str(block_hash).lower())
            if number is None:
                raise RpcFailure(-32000, f"unknown block {block_hash}")
            first = last = number
        else:
            first = self.block_number(params.get("fromBlock", "latest"))
            last = self.block_number(params.get("toBlock", "latest"))
            if first > last:
                raise RpcFailure(-32000, "invalid block range params")
        topics_param = params.get("topics") or []
        if not isinstance(topics_param, list):
            raise RpcFailure(-32602, "topics must be a list")
        topics = [_lower_set(t, "topic") for t in topics_param]
        return _LogFilter(
            first, last, _lower_set(params.get("address"), "address"), topics, block_hash
        )

    def logs(self, flt: _LogFilter, limit: int | None) -> bytes:
        """The matching logs as a JSON array; RpcFailure -32005 if there are more than ``limit``."""
        lo = max(flt.first, self.first_block) - self.first_block
        hi = min(flt.last, self.head) - self.first_block
        only_topic0 = all(t is None for t in flt.topics[1:])
        parts: list[bytes] = []
        count = 0
        for index in range(lo, hi + 1):
            block = self.block_logs[index]
            if not block.count:
                continue
            matching = [flt.key_matches(k) for k in block.keys]
            if not any(matching):
                continue
            if only_topic0 and all(matching):
                parts.append(block.joined)
                count += block.count
            else:
                selected = [raw for a, t, raw in block.items if flt.matches(a, t)]
                if selected:
                    parts.append(b",".join(selected))
                    count += len(selected)
            if limit is not None and count > limit:
                raise RpcFailure(
                    -32005,
                    f"query returned more than {limit} results",
                    {"limit": limit, "from": hex(flt.first), "to": hex(flt.last)},
                )
        return b"[" + b",".join(parts) + b"]"


# --------------------------------------------------------------------------------------------------
# JSON-RPC dispatch
# --------------------------------------------------------------------------------------------------


class ReplayNode:
    """JSON-RPC over a :class:`ReplayChain`, with its own time accounted in :meth:`stats`."""

    def __init__(self, chain: ReplayChain) -> None:
        self.chain = chain
        self._filters: dict[str, dict[str, Any]] = {}
        self._filter_ids = itertools.count(1)
        self._lock = threading.Lock()
        self.reset_stats()

    def reset_stats(self) -> None:
        with self._lock:
            self.calls: Counter[str] = Counter()
            self.errors: Counter[str] = Counter()
            self.http_requests = 0
            self.compute_seconds = 0.0
            self.total_seconds = 0.0
            self.bytes_out = 0
            self.logs_out = 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "http_requests": self.http_requests,
                "calls": dict(self.calls),
                "errors": dict(self.errors),
                "compute_seconds": round(self.compute_seconds, 4),
                "total_seconds": round(self.total_seconds, 4),
                "bytes_out": self.bytes_out,
            }

    def account(self, compute: float, total: float, size: int) -> None:
        with self._lock:
            self.http_requests += 1
            self.compute_seconds += compute
            self.total_seconds += total
            self.bytes_out += size

    # -- requests --------------------------------------------------------------------------------

    def handle(self, body: bytes) -> bytes:
        """Answer one HTTP body: a call or a batch."""
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error(None, -32700, "parse error")
        if isinstance(request, list):
            if not request:
                return _error(None, -32600, "empty batch")
            return b"[" + b",".join(self._call(item) for item in request) + b"]"
        return self._call(request)

    def _call(self, request: Any) -> bytes:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, -32600, "invalid request")
        request_id = request.get("id")
        method = request["method"]
        params = request.get("params") or []
        with self._lock:
            self.calls[method] += 1
        try:
            handler = self._methods.get(method)
            if handler is None:
                raise RpcFailure(-32601, f"the method {method} does not exist/is not available")
            result = handler(self, params)
        except RpcFailure as failure:
            with self._lock:
                self.errors[f"{method} {failure.code}"] += 1
            return _error(request_id, failure.code, failure.message, failure.data)
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            with self._lock:
                self.errors[f"{method} -32602"] += 1
            return _error(request_id, -32602, f"invalid params: {exc}")
        return b'{"jsonrpc":"2.0","id":' + orjson.dumps(request_id) + b',"result":' + result + b"}"

    # -- methods (each returns the result's JSON bytes) ------------------------------------------

    def _chain_id(self, params: list[Any]) -> bytes:
        return orjson.dumps(hex(self.chain.chain_id))

    def _net_version(self, params: list[Any]) -> bytes:
        return orjson.dumps(str(self.chain.chain_id))

    def _block_number(self, params: list[Any]) -> bytes:
        return orjson.dumps(hex(self.chain.head))

    def _client_version(self, params: list[Any]) -> bytes:
        return b'"exposure-bench-replay/1"'

    def _syncing(self, params: list[Any]) -> bytes:
        return b"false"

    def _get_block_by_number(self, params: list[Any]) -> bytes:
        full = bool(params[1]) if len(params) > 1 else False
        return self.chain.block(self.chain.block_number(params[0]), full)

    def _get_block_by_hash(self, params: list[Any]) -> bytes:
        number = self.chain.by_hash.get(str(params[0]).lower())
        full = bool(params[1]) if len(params) > 1 else False
        return b"null" if number is None else self.chain.block(number, full)

    def _get_logs(self, params: list[Any]) -> bytes:
        flt = self.chain.parse_filter(params[0] if params else {})
        return self.chain.logs(flt, self.chain.log_limit)

    def _new_filter(self, params: list[Any]) -> bytes:
        raw = params[0] if params else {}
        self.chain.parse_filter(raw)  # refuse a bad filter now, as nodes do
        with self._lock:
            filter_id = hex(next(self._filter_ids))
            self._filters[filter_id] = {"params": raw, "polled": False}
        return orjson.dumps(filter_id)

    def _filter(self, params: list[Any]) -> dict[str, Any]:
        with self._lock:
            entry = self._filters.get(str(params[0]))
        if entry is None:
            raise RpcFailure(-32000, "filter not found")
        return entry

    def _get_filter_logs(self, params: list[Any]) -> bytes:
        entry = self._filter(params)
        return self.chain.logs(self.chain.parse_filter(entry["params"]), self.chain.filter_limit)

    def _get_filter_changes(self, params: list[Any]) -> bytes:
        entry = self._filter(params)  # the recording never grows: everything is new once
        if entry["polled"]:
            return b"[]"
        entry["polled"] = True
        return self.chain.logs(self.chain.parse_filter(entry["params"]), self.chain.filter_limit)

    def _uninstall_filter(self, params: list[Any]) -> bytes:
        with self._lock:
            return b"true" if self._filters.pop(str(params[0]), None) is not None else b"false"

    def _stats(self, params: list[Any]) -> bytes:
        return orjson.dumps(self.stats())

    def _reset_stats(self, params: list[Any]) -> bytes:
        self.reset_stats()
        return b"true"

    _methods: ClassVar[dict[str, Callable[[ReplayNode, list[Any]], bytes]]] = {
        "eth_chainId": _chain_id,
        "net_version": _net_version,
        "eth_blockNumber": _block_number,
        "web3_clientVersion": _client_version,
        "eth_syncing": _syncing,
        "eth_getBlockByNumber": _get_block_by_number,
        "eth_getBlockByHash": _get_block_by_hash,
        "eth_getLogs": _get_logs,
        "eth_newFilter": _new_filter,
        "eth_getFilterLogs": _get_filter_logs,
        "eth_getFilterChanges": _get_filter_changes,
        "eth_uninstallFilter": _uninstall_filter,
        "replay_stats": _stats,
        "replay_resetStats": _reset_stats,
    }


def _error(request_id: Any, code: int, message: str, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "error": error})


# --------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse their connection
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        answer = self.server.node.handle(body)
        computed = time.perf_counter()
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(answer)).encode() + b"\r\n\r\n"
        )
        self.wfile.write(head)
        self.wfile.write(answer)
        self.server.node.account(computed - started, time.perf_counter() - started, len(answer))

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], node: ReplayNode) -> None:
        super().__init__(address, _Handler)
        self.node = node

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        super().server_bind()


class ReplayServer:
    """Serve a recording on ``host:port`` (port 0: a free one) in a background thread."""

    def __init__(
        self,
        recording: dict[str, Any],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_limit: int | None = DEFAULT_LOG_LIMIT,
        filter_limit: int | None = None,
    ) -> None:
        self.node = ReplayNode(
            ReplayChain(recording, log_limit=log_limit, filter_limit=filter_limit)
        )
        self._server = _Server((host, port), self.node)
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve_forever(self) -> None:
        self._server.serve_forever()


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--log-limit",
        type=int,
        default=DEFAULT_LOG_LIMIT,
        help="eth_getLogs answers -32005 above this many results (0: no limit)",
    )
    parser.add_argument(
        "--filter-limit",
        type=int,
        default=0,
        help="the same for eth_getFilterLogs/eth_getFilterChanges (0, the default: no limit)",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    started = time.perf_counter()
    recording = load_recording(args.recording)
    server = ReplayServer(
        recording,
        host=args.host,
        port=args.port,
        log_limit=args.log_limit or None,
        filter_limit=args.filter_limit or None,
    )
    del recording
    chain = server.node.chain
    print(
        f"READY {server.url} blocks={chain.head - chain.first_block + 1} logs={chain.n_logs} "
        f"load_seconds={time.perf_counter() - started:.2f}",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        server.serve_forever()


if __name__ == "__main__":
    main()
