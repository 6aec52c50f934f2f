"""A JSON-RPC client for indexers: batched, retried with backoff, errors classified by kind.

Three kinds of failure, told apart by what happened, never by message text:

- transport failures (connection refused or reset, timeouts, HTTP 429/5xx, a body that is not
  the JSON-RPC answer we asked for, a batch answer with missing or wrong ids) are retried with
  exponential backoff (honouring ``Retry-After``), then raise :class:`RpcError`;
- HTTP 4xx other than 429 (bad credentials, forbidden) raise at once;
- a well-formed JSON-RPC error object is *returned* to the caller as :class:`CallError`, which
  decides by its ``code`` (e.g. eth_getLogs splits its block range on any server-side error);
  calls answered with a transient code (internal error, "header not found", limit exceeded,
  warming up) are asked again with the same backoff first, unless the caller opts out.

The URL in every message is redacted (credentials in userinfo, path or query never appear).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

from exposure.config import redact_url
from exposure.errors import InputError, RpcError

#: JSON-RPC codes that mean the method does not exist on this node.
METHOD_NOT_FOUND = -32601
#: Codes with which nodes reject a method they do not offer (Erigon/Nethermind/Hardhat say -32601,
#: some providers -32004 "method not supported" or -32600 for disabled namespaces).
UNSUPPORTED_CODES = frozenset({-32601, -32004, -32600})

#: JSON-RPC codes of a failure on the node's side that may pass: internal error (-32603), geth's
#: generic server error (-32000, e.g. "header not found" behind a load balancer), resource not
#: found/unavailable (-32001/-32002), limit exceeded (-32005, also rate limits), Bitcoin Core's
#: "in warm-up" (-28).
TRANSIENT_CODES = frozenset({-32603, -32000, -32001, -32002, -32005, -28})

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 522, 524})


@dataclass(frozen=True)
class CallError:
    """A JSON-RPC error object answered for one call."""

    code: int
    message: str
    data: Any = None

    @property
    def unsupported(self) -> bool:
        """The node does not offer this method (or namespace)."""
        return self.code in UNSUPPORTED_CODES

    @property
    def transient(self) -> bool:
        """A failure on the node's side that asking again may cure."""
        return self.code in TRANSIENT_CODES


class _Transient(Exception):
    """A failure worth retrying; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, what: str, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after = retry_after


class RpcClient:
    """JSON-RPC over HTTP with batching and retries.

    Parameters
    ----------
    url:
        The node's HTTP endpoint; may carry credentials, which are never shown.
    timeout:
        Seconds per HTTP request.
    retries:
        Attempts after the first for transient failures.
    backoff, max_backoff:
        First delay and cap, in seconds, of the exponential backoff (with jitter).
    max_batch:
        Most calls per HTTP request; halved automatically if the node rejects large batches.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 60.0,
        retries: int = 6,
        backoff: float = 0.25,
        max_backoff: float = 20.0,
        max_batch: int = 200,
    ) -> None:
        self.url = url
        self.safe_url = redact_url(url)
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise InputError(
                f"the RPC URL must start with http:// or https://, got {self.safe_url}"
            )
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_batch = max_batch
        self._session = requests.Session()
        self._session.headers.update({"Content-Type": "application/json"})
        self._next_id = 1
        self.requests_sent = 0
        self.retries_done = 0

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    # -- single calls -----------------------------------------------------------------------
    def call(self, method: str, params: Sequence[Any] = (), *, context: str = "") -> Any:
        """Call ``method``; return its result or raise RpcError for a JSON-RPC error object.

        ``context`` (e.g. "blocks 100-199") is added to error messages.
        """
        result = self.try_call(method, params, context=context)
        if isinstance(result, CallError):
            raise RpcError(
                f"{method}{_ctx(context)} failed on {self.safe_url}: "
                f"JSON-RPC error {result.code}: {_short(result.message)}",
                method=method,
                code=result.code,
            )
        return result

    def try_call(
        self,
        method: str,
        params: Sequence[Any] = (),
        *,
        context: str = "",
        retry_errors: bool = True,
    ) -> Any | CallError:
        """Call ``method``; a JSON-RPC error object is returned as :class:`CallError`."""
        return self.batch([(method, params)], context=context, retry_errors=retry_errors)[0]

    # -- batches ----------------------------------------------------------------------------
    def batch(
        self,
        calls: Sequence[tuple[str, Sequence[Any]]],
        *,
        context: str = "",
        retry_errors: bool = True,
    ) -> list[Any | CallError]:
        """Send ``calls`` in as few HTTP requests as allowed; results in the calls' order.

        With ``retry_errors``, calls answered with a :attr:`CallError.transient` error are asked
        again (with backoff, up to ``retries`` times) before their error is returned.
        """
        out = self._batch(calls, context)
        delay = self.backoff
        for _ in range(self.retries if retry_errors else 0):
            again = [i for i, r in enumerate(out) if isinstance(r, CallError) and r.transient]
            if not again:
                break
            self.retries_done += 1
            time.sleep(delay * (0.75 + random.random() / 2))
            delay = min(self.max_backoff, delay * 2)
            answers = self._batch([calls[i] for i in again], context)
            for i, result in zip(again, answers, strict=True):
                out[i] = result
        return out

    def _batch(
        self, calls: Sequence[tuple[str, Sequence[Any]]], context: str
    ) -> list[Any | CallError]:
        out: list[Any | CallError] = []
        start = 0
        while start < len(calls):
            chunk = calls[start : start + self.max_batch]
            try:
                out.extend(self._send_with_retry(chunk, context))
            except _BatchTooLarge:
                if self.max_batch == 1:
                    raise RpcError(
                        f"{chunk[0][0]}{_ctx(context)}: node {self.safe_url} rejects even a "
                        "single-call batch",
                        method=chunk[0][0],
                    ) from None
                self.max_batch = max(1, self.max_batch // 2)
                continue
            start += len(chunk)
        return out

    def _send_with_retry(
        self, calls: Sequence[tuple[str, Sequence[Any]]], context: str
    ) -> list[Any | CallError]:
        method = calls[0][0] if len(calls) == 1 else f"{calls[0][0]} (batch of {len(calls)})"
        delay = self.backoff
        last = "no attempt"
        for attempt in range(self.retries + 1):
            try:
                return self._send(calls)
            except _Transient as exc:
                last = exc.what
                if attempt == self.retries:
                    break
                self.retries_done += 1
                wait = exc.retry_after if exc.retry_after is not None else delay
                time.sleep(min(self.max_backoff, wait) * (0.75 + random.random() / 2))
                delay = min(self.max_backoff, delay * 2)
        raise RpcError(
            f"{method}{_ctx(context)} failed on {self.safe_url} after "
            f"{self.retries + 1} attempts: {last}",
            method=calls[0][0],
        )

    def _send(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any | CallError]:
        first_id = self._next_id
        self._next_id += len(calls)
        single = len(calls) == 1
        payload: Any = [
            {"jsonrpc": "2.0", "id": first_id + i, "method": m, "params": list(p)}
            for i, (m, p) in enumerate(calls)
        ]
        if single:
            payload = payload[0]
        body = orjson.dumps(payload)
        self.requests_sent += 1
        try:
            response = self._session.post(self.url, data=body, timeout=self.timeout)
        except requests.Timeout:
            raise _Transient("timed out") from None
        except requests.ConnectionError:
            raise _Transient("connection failed (node down or unreachable)") from None
        except requests.RequestException as exc:
            raise _Transient(f"HTTP failure ({type(exc).__name__})") from None
        status = response.status_code
        if status in _RETRY_STATUS:
            raise _Transient(f"HTTP {status}", _retry_after(response))
        if status == 413:
            raise _BatchTooLarge()
        if status >= 400 and status != 400:
            raise RpcError(
                f"node {self.safe_url} refused the request: HTTP {status}"
                + (" (check the URL's credentials)" if status in (401, 403) else ""),
                method=calls[0][0],
            )
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            if status == 400:
                raise RpcError(
                    f"node {self.safe_url} refused the request: HTTP 400", method=calls[0][0]
                ) from None
            raise _Transient("invalid JSON in response") from None
        if single and isinstance(answer, list) and len(answer) == 1:
            answer = answer[0]
        if single:
            if not isinstance(answer, dict):
                raise _Transient("unexpected response shape")
            return [self._unpack(answer, first_id)]
        if isinstance(answer, dict):
            # A single error object for the whole batch: the node does not take batches this big.
            if "error" in answer and answer.get("id") is None:
                raise _BatchTooLarge()
            raise _Transient("unexpected response shape")
        if not isinstance(answer, list):
            raise _Transient("unexpected response shape")
        by_id: dict[Any, dict[str, Any]] = {}
        for item in answer:
            if isinstance(item, dict):
                by_id[item.get("id")] = item
        results = []
        for i in range(len(calls)):
            item = by_id.get(first_id + i)
            if item is None:
                raise _Transient("batch response with missing or wrong ids")
            results.append(self._unpack(item, first_id + i))
        return results

    @staticmethod
    def _unpack(item: dict[str, Any], expected_id: int) -> Any | CallError:
        if item.get("id") != expected_id:
            raise _Transient("response for the wrong request id")
        if "error" in item and item["error"] is not None:
            err = item["error"]
            if not isinstance(err, dict):
                raise _Transient("malformed JSON-RPC error")
            code = err.get("code")
            return CallError(
                int(code) if isinstance(code, int) else 0,
                str(err.get("message", "")),
                err.get("data"),
            )
        if "result" not in item:
            raise _Transient("response without result")
        return item["result"]


class _BatchTooLarge(Exception):
    pass


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _ctx(context: str) -> str:
    return f" for {context}" if context else ""


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
