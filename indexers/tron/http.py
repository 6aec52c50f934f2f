"""A client for java-tron's FullNode HTTP API (``/wallet/...``; TronGrid and other providers serve
the same paths): JSON bodies POSTed, retried with backoff, errors named by path and block range.

Failures are told apart by what happened, never by message text:

- transport failures (connection refused or reset, timeouts, HTTP 429 and 5xx, a body that is
  not JSON) are retried with exponential backoff and jitter, honouring ``Retry-After`` (providers
  rate-limit hard), then raise :class:`RpcError`;
- other HTTP 4xx (a bad or missing API key, forbidden) raise at once;
- java-tron's own error answer, HTTP 200 with ``{"Error": "class ... : message"}``, raises at
  once: the node understood the request and refused it. The one exception is TronGrid's
  rate-limit answer in that same shape, ``{"Error": "request rate exceeded the allowed_rps(10),
  and the query server is suspended for 5 s"}`` (reported in iexbase/tron-api#171): it carries
  no code, so its "suspended for N s" is read as a Retry-After of N seconds.

The API key goes in the ``TRON-PRO-API-KEY`` header; it and any credential in the URL (userinfo,
path segment or query, as providers hand them out) never appear in a message.
"""

from __future__ import annotations

import random
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import requests

from exposure.config import redact_url
from exposure.errors import InputError, RpcError

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 522, 524})
#: TronGrid's rate-limit answer (HTTP 200, java-tron's error shape): wait the seconds it names.
_SUSPENDED = re.compile(r"query server is suspended for (\d+(?:\.\d+)?) ?s")
API_KEY_HEADER = "TRON-PRO-API-KEY"


class _Transient(Exception):
    def __init__(self, what: str, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after = retry_after


class TronHttpClient:
    """POST JSON to a java-tron HTTP API, with retries; thread-safe (one session per thread).

    Parameters
    ----------
    url:
        The node's base URL, e.g. ``http://127.0.0.1:8090`` (a provider's path prefix and query
        string, which may hold a key, are kept on every request and never shown).
    api_key:
        Sent as the ``TRON-PRO-API-KEY`` header (TronGrid), or None.
    timeout, retries, backoff, max_backoff:
        Seconds per request; attempts after the first for transient failures; first delay and
        cap of the exponential backoff, in seconds.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 6,
        backoff: float = 0.25,
        max_backoff: float = 20.0,
    ) -> None:
        self.url = url
        self.safe_url = redact_url(url)
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise InputError(
                f"the node URL must start with http:// or https://, got {self.safe_url}"
            )
        self._base = (parts.scheme, parts.netloc, parts.path.rstrip("/"), parts.query)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers[API_KEY_HEADER] = api_key
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self.requests_sent = 0
        self.retries_done = 0

    def close(self) -> None:
        """Close every thread's HTTP session."""
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(self._headers)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def endpoint(self, path: str) -> str:
        """The full URL of ``path`` (e.g. ``/wallet/getnowblock``) on this node."""
        scheme, netloc, prefix, query = self._base
        return urlunsplit((scheme, netloc, prefix + path, query, ""))

    def post(self, path: str, body: dict[str, Any], *, context: str = "") -> Any:
        """POST ``body`` to ``path``; the decoded JSON answer, or RpcError naming the call."""
        where = f"{path}{f' for {context}' if context else ''}"
        delay = self.backoff
        last = "no attempt"
        for attempt in range(self.retries + 1):
            try:
                answer = self._send(path, body, where)
                if isinstance(answer, dict) and "Error" in answer:
                    suspended = _SUSPENDED.search(str(answer["Error"]))
                    if suspended:
                        raise _Transient("rate limited (the provider suspended queries)",
                                         float(suspended.group(1)))
            except _Transient as exc:
                last = exc.what
                if attempt == self.retries:
                    break
                self.retries_done += 1
                wait = exc.retry_after if exc.retry_after is not None else delay
                time.sleep(min(self.max_backoff, wait) * (0.75 + random.random() / 2))
                delay = min(self.max_backoff, delay * 2)
                continue
            if isinstance(answer, dict) and "Error" in answer:
                raise RpcError(
                    f"{where} failed on {self.safe_url}: the node answered "
                    f"{_short(str(answer['Error']))}",
                    method=path,
                )
            return answer
        raise RpcError(
            f"{where} failed on {self.safe_url} after {self.retries + 1} attempts: {last}",
            method=path,
        )

    def _send(self, path: str, body: dict[str, Any], where: str) -> Any:
        self.requests_sent += 1
        try:
            response = self._session().post(
                self.endpoint(path), data=orjson.dumps(body), timeout=self.timeout
            )
        except requests.Timeout:
            raise _Transient("timed out") from None
        except requests.ConnectionError:
            raise _Transient("connection failed (node down or unreachable)") from None
        except requests.RequestException as exc:
            raise _Transient(f"HTTP failure ({type(exc).__name__})") from None
        status = response.status_code
        if status in _RETRY_STATUS:
            raise _Transient(f"HTTP {status}", _retry_after(response))
        if status >= 400:
            hint = " (check the API key or the URL's credentials)" if status in (401, 403) else ""
            raise RpcError(
                f"{where}: node {self.safe_url} refused the request: HTTP {status}{hint}",
                method=path,
            )
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise _Transient("invalid JSON in response") from None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
