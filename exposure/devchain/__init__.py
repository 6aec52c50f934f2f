"""A real local Ethereum node (anvil) and real ERC-20 / ERC-721 / ETH transfers played on it.

Used by the tests, the benchmarks and the demo. Three layers:

* :func:`find_anvil` and :class:`Anvil` locate and run the ``anvil`` binary (from Foundry; the npm
  package ``@foundry-rs/anvil`` ships it) on ``127.0.0.1`` and a free port.
* :class:`DevChain` is a thin JSON-RPC client (``requests``) for any running node: calls,
  batches, deployments of the contracts compiled in ``contracts/artifacts.json``, and
  :meth:`DevChain.send_many`, which plays thousands of transactions per second.
* :func:`seed_scenario` plays a fixed, varied history and returns a :class:`Scenario` listing
  exactly what must be found on chain; :func:`seed_many_transfers` produces large numbers of
  Transfer logs.

Transactions are sent with ``eth_sendTransaction`` from anvil's unlocked, funded accounts.
Addresses and hashes returned by this module are lowercase ``0x`` hex strings.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self

import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, keccak

__all__ = [
    "ARTIFACTS_PATH",
    "MAX_UINT256",
    "TRANSFER_TOPIC",
    "ZERO_ADDRESS",
    "Anvil",
    "DevChain",
    "DevChainError",
    "NativeTransfer",
    "NftTransfer",
    "RpcError",
    "Scenario",
    "TokenTransfer",
    "TransactionFailed",
    "decode_output",
    "encode_call",
    "find_anvil",
    "load_artifacts",
    "seed_many_transfers",
    "seed_scenario",
]

#: Compiled contracts: ``{name: {abi, bytecode, compiler, source, source_sha256}}``.
ARTIFACTS_PATH: Path = Path(__file__).resolve().parent / "contracts" / "artifacts.json"

#: keccak256("Transfer(address,address,uint256)"): topic0 of ERC-20 and ERC-721 Transfer logs alike.
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

MAX_UINT256 = 2**256 - 1
ZERO_ADDRESS = "0x" + "00" * 20

_ETHER = 10**18
_INSTALL_HINT = (
    "anvil (Foundry's local Ethereum node) was not found. Install it with `npm ci` in the "
    "repository (or `npm install @foundry-rs/anvil`), put `anvil` on PATH, or set EXPOSURE_ANVIL "
    "to the binary."
)


class DevChainError(RuntimeError):
    """Something on the development chain did not go as required."""


class RpcError(DevChainError):
    """A JSON-RPC error answer (``{"error": {...}}``)."""

    def __init__(self, method: str, code: int | None, message: str, data: Any = None) -> None:
        super().__init__(
            f"{method}: {message} (code {code})" + (f", data {data!r}" if data else "")
        )
        self.method = method
        self.code = code
        self.message = message
        self.data = data


class TransactionFailed(DevChainError):
    """A mined transaction has receipt status 0."""

    def __init__(self, tx_hash: str, receipt: Mapping[str, Any]) -> None:
        super().__init__(f"transaction {tx_hash} reverted (block {receipt.get('blockNumber')})")
        self.tx_hash = tx_hash
        self.receipt = receipt


# --------------------------------------------------------------------------------------------------
# Locating and running anvil
# --------------------------------------------------------------------------------------------------


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _native_anvil(path: str) -> str:
    """Return the native binary behind the npm wrapper ``node_modules/.bin/anvil``, if it is one.

    The npm package's ``bin.mjs`` is a Node script that spawns the real binary from the platform
    package ``@foundry-rs/anvil-<os>-<arch>``; running that binary directly saves Node's start-up
    and leaves no grandchild behind when the process is killed. Any other path is returned
    unchanged.
    """
    real = Path(path).resolve()
    if real.name != "bin.mjs" or real.parent.parent.name != "@foundry-rs":
        return path
    os_name = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(
        "win32" if os.name == "nt" else platform.system().lower(), ""
    )
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), ""
    )
    exe = "anvil.exe" if os.name == "nt" else "anvil"
    package = f"anvil-{os_name}-{arch}"
    for base in (real.parent.parent, real.parent / "node_modules" / "@foundry-rs"):
        candidate = base / package / "bin" / exe
        if _is_executable(candidate):
            return str(candidate)
    return path


def find_anvil() -> str:
    """Return the path of an ``anvil`` executable.

    Looked up in order: the environment variable ``EXPOSURE_ANVIL``; ``anvil`` on ``PATH``;
    ``node_modules/.bin/anvil`` in the current directory or any parent; the same under the
    repository root (the parent of the ``exposure`` package). When the hit is the npm wrapper
    script, the native binary it would launch is returned instead (if present).

    Raises:
        FileNotFoundError: if none is found (the message says how to install it), or if
            ``EXPOSURE_ANVIL`` names something that is not an executable file.
    """
    env = os.environ.get("EXPOSURE_ANVIL")
    if env:
        if not _is_executable(Path(env)):
            raise FileNotFoundError(
                f"EXPOSURE_ANVIL={env!r} is not an executable file. {_INSTALL_HINT}"
            )
        return _native_anvil(env)
    on_path = shutil.which("anvil")
    if on_path:
        return _native_anvil(on_path)
    cwd = Path.cwd().resolve()
    repo_root = Path(__file__).resolve().parent.parent.parent
    for directory in (cwd, *cwd.parents, repo_root):
        candidate = directory / "node_modules" / ".bin" / "anvil"
        if _is_executable(candidate):
            return _native_anvil(str(candidate))
    raise FileNotFoundError(_INSTALL_HINT)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    """Send ``sig`` to the process group led by ``process`` (falls back to the process alone)."""
    if process.poll() is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def _terminate_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM a node's process group, SIGKILL it after ``timeout`` seconds, and wait."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _finalize_process(process: subprocess.Popen[bytes]) -> None:
    """Last-resort clean-up (garbage collection or interpreter exit): never leave anvil running."""
    if process.poll() is None:
        _signal_group(process, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


class _NodeProcess:
    """What the anvil and bcoin harnesses share: a subprocess in its own process group whose
    output goes to a temporary file, stopped on exit (SIGTERM, then SIGKILL) or killed at once."""

    name = "node"
    process: subprocess.Popen[bytes] | None
    _stderr: IO[bytes] | None
    _finalizer: weakref.finalize[Any, Any] | None

    @property
    def running(self) -> bool:
        """Whether the subprocess is alive."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> Self:
        """Start the node and wait until it answers; return ``self``."""
        raise NotImplementedError

    def _read_stderr(self) -> str:
        """The tail of the node's output (for error messages)."""
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace").strip()[-4000:]
        except (OSError, ValueError):
            return ""

    def _cleanup(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the node (SIGTERM, then SIGKILL after ``timeout`` seconds) and wait for it."""
        if self.process is None:
            return
        _terminate_group(self.process, timeout)
        self._cleanup()

    def kill(self) -> None:
        """Kill the node at once (SIGKILL, no clean shutdown) and wait for it: for crash tests."""
        if self.process is None:
            return
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait()
        self._cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Anvil(_NodeProcess):
    """A local anvil node in a subprocess, on ``127.0.0.1`` and a free port.

    Use as a context manager::

        with Anvil() as node:
            chain = node.chain()

    Args:
        *extra_args: more command-line arguments for anvil, e.g. ``"--chain-id", "1337"`` or
            ``"--gas-limit", "60000000"``. By default anvil mines one block per transaction.
        executable: path of the binary; default :func:`find_anvil`.
        host: address to listen on; loopback only by default.
        port: port to listen on; default a free one.
        startup_timeout: seconds to wait for ``eth_chainId`` to answer.

    Attributes:
        url: the node's HTTP JSON-RPC endpoint (set once started).
        port: the port it listens on (set once started).
        process: the anvil subprocess (``None`` before :meth:`start`).
    """

    def __init__(
        self,
        *extra_args: str,
        executable: str | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        self.extra_args: tuple[str, ...] = tuple(extra_args)
        self.executable = executable
        self.host = host
        self.port: int = port or 0
        self.url: str = ""
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._requested_port = port
        self._stderr: IO[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def start(self) -> Anvil:
        """Start anvil and wait until it answers ``eth_chainId``; return ``self``.

        Raises:
            FileNotFoundError: anvil cannot be found.
            DevChainError: anvil exited during start-up (its stderr is in the message).
            TimeoutError: it did not answer within ``startup_timeout`` seconds.
        """
        if self.running:
            return self
        executable = self.executable or find_anvil()
        attempts = 1 if self._requested_port else 3
        last_error: Exception | None = None
        for _ in range(attempts):
            try:
                self._launch(executable)
                return self
            except DevChainError as exc:  # e.g. the free port was taken meanwhile: try another one
                last_error = exc
        assert last_error is not None
        raise last_error

    def _launch(self, executable: str) -> None:
        self.port = self._requested_port or _free_port(self.host)
        self.url = f"http://{self.host}:{self.port}"
        args = [
            executable,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--silent",
            *self.extra_args,
        ]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop()/kill())
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            # Its own process group, so that stop()/kill() also reach a child (the npm wrapper's).
            start_new_session=True,
        )
        self._finalizer = weakref.finalize(self, _finalize_process, self.process)
        deadline = time.monotonic() + self.startup_timeout
        session = requests.Session()
        payload: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        try:
            while True:
                if self.process.poll() is not None:
                    message = self._read_stderr()
                    self._cleanup()
                    raise DevChainError(
                        f"anvil exited with code {self.process.returncode} during start-up "
                        f"({' '.join(args)}): {message or 'no output'}"
                    )
                try:
                    answer = session.post(self.url, json=payload, timeout=1.0).json()
                    if "result" in answer:
                        return
                except (requests.RequestException, ValueError):
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise TimeoutError(
                        f"anvil did not answer eth_chainId on {self.url} "
                        f"within {self.startup_timeout:g} s"
                    )
                time.sleep(0.02)
        finally:
            session.close()

    def chain(self, timeout: float = 300.0) -> DevChain:
        """A :class:`DevChain` client for this node."""
        if not self.url:
            raise DevChainError("anvil is not started")
        return DevChain(self.url, timeout=timeout)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Anvil({self.url or 'not started'}, {state})"


# --------------------------------------------------------------------------------------------------
# ABI helpers
# --------------------------------------------------------------------------------------------------


@functools.cache
def load_artifacts() -> dict[str, dict[str, Any]]:
    """The compiled contracts, ``{name: {"abi": [...], "bytecode": "0x...", ...}}`` (cached)."""
    with ARTIFACTS_PATH.open(encoding="utf-8") as handle:
        artifacts: dict[str, dict[str, Any]] = json.load(handle)
    return artifacts


def _split_types(inner: str) -> list[str]:
    """Split ``"address,(uint256,bool)[],bytes"`` at top-level commas."""
    types: list[str] = []
    depth = 0
    current = ""
    for char in inner:
        if char == "," and depth == 0:
            types.append(current.strip())
            current = ""
            continue
        depth += (char == "(") - (char == ")")
        current += char
    if current.strip():
        types.append(current.strip())
    return types


def _closing_paren(text: str, start: int) -> int:
    depth = 0
    for index in range(start, len(text)):
        depth += (text[index] == "(") - (text[index] == ")")
        if depth == 0:
            return index
    raise ValueError(f"unbalanced parentheses in {text!r}")


@functools.lru_cache(maxsize=512)
def _parse_signature(signature: str) -> tuple[str, tuple[str, ...], tuple[str, ...] | None]:
    """``"balanceOf(address)(uint256)"`` -> (``"balanceOf(address)"``, inputs, outputs or None)."""
    signature = signature.replace(" ", "")
    open_at = signature.find("(")
    if open_at <= 0:
        raise ValueError(f"not a function signature: {signature!r}")
    close_at = _closing_paren(signature, open_at)
    inputs = tuple(_split_types(signature[open_at + 1 : close_at]))
    canonical = f"{signature[:open_at]}({','.join(inputs)})"
    rest = signature[close_at + 1 :]
    if not rest:
        return canonical, inputs, None
    if not rest.startswith("(") or _closing_paren(rest, 0) != len(rest) - 1:
        raise ValueError(f"bad return types in {signature!r}")
    return canonical, inputs, tuple(_split_types(rest[1:-1]))


def _lower_addresses(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return value.lower()
    if isinstance(value, tuple | list):
        return type(value)(_lower_addresses(item) for item in value)
    return value


def encode_call(signature: str, *args: Any) -> str:
    """ABI-encode a call: ``encode_call("transfer(address,uint256)", to, 5)`` -> ``"0xa9059cbb.."``.

    Return types in cast style (``"f(uint256)(bool)"``) are accepted and ignored.
    """
    canonical, inputs, _ = _parse_signature(signature)
    if len(args) != len(inputs):
        raise ValueError(f"{canonical} takes {len(inputs)} arguments, got {len(args)}")
    selector = function_signature_to_4byte_selector(canonical)
    return "0x" + (selector + abi_encode(list(inputs), list(args))).hex()


def decode_output(types: Sequence[str], data: str | bytes) -> tuple[Any, ...]:
    """ABI-decode return data; addresses come back lowercase."""
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
    return tuple(_lower_addresses(list(abi_decode(list(types), raw))))


def _encode_batch_transfer(recipients: Sequence[str], amounts: Sequence[int]) -> str:
    """Hand-made (fast) ABI encoding of ``batchTransfer(address[],uint256[])``."""
    n = len(recipients)
    words = [
        "0000000000000000000000000000000000000000000000000000000000000040",
        format(0x40 + 32 * (n + 1), "064x"),
        format(n, "064x"),
    ]
    words.extend("000000000000000000000000" + address[2:].lower() for address in recipients)
    words.append(format(n, "064x"))
    words.extend(format(amount, "064x") for amount in amounts)
    return "0x" + _BATCH_TRANSFER_SELECTOR + "".join(words)


_BATCH_TRANSFER_SELECTOR = function_signature_to_4byte_selector(
    "batchTransfer(address[],uint256[])"
).hex()

_INT_TX_FIELDS = (
    "value",
    "gas",
    "nonce",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "chainId",
)


def _hexify_tx(tx: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(tx)
    for key in _INT_TX_FIELDS:
        if isinstance(out.get(key), int):
            out[key] = hex(out[key])
    for key in ("from", "to"):
        if isinstance(out.get(key), str):
            out[key] = out[key].lower()
    return out


def _to_int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _topic_address(topic: str) -> str:
    return "0x" + topic[-40:].lower()


# --------------------------------------------------------------------------------------------------
# JSON-RPC client
# --------------------------------------------------------------------------------------------------


class DevChain:
    """A thin JSON-RPC client (over ``requests``) for a running node, anvil in particular.

    Args:
        url: the HTTP JSON-RPC endpoint.
        timeout: seconds per HTTP request (large batches take a while).
    """

    def __init__(self, url: str, *, timeout: float = 300.0) -> None:
        self.url = url
        self.timeout = timeout
        self._session = requests.Session()
        self._next_id = 0
        self._accounts: list[str] | None = None

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def __enter__(self) -> DevChain:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DevChain({self.url!r})"

    # ---- raw JSON-RPC --------------------------------------------------------------------------

    def _post(self, payload: Any) -> Any:
        return self._post_raw(json.dumps(payload, separators=(",", ":")))

    def _post_raw(self, body: str) -> Any:
        response = self._session.post(
            self.url,
            data=body.encode(),
            headers={"Content-Type": "application/json"},
            timeout=self.timeout,
        )
        if response.status_code != 200 and not response.content:
            raise DevChainError(f"HTTP {response.status_code} from {self.url}")
        try:
            return response.json()
        except ValueError as exc:
            raise DevChainError(
                f"HTTP {response.status_code} from {self.url}: {response.text[:500]}"
            ) from exc

    def rpc(self, method: str, params: Sequence[Any] | None = None) -> Any:
        """Call one JSON-RPC method and return its ``result``.

        Raises:
            RpcError: the node answered with an error.
        """
        self._next_id += 1
        answer = self._post(
            {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": list(params or [])}
        )
        if "error" in answer:
            error = answer["error"] or {}
            raise RpcError(method, error.get("code"), str(error.get("message")), error.get("data"))
        return answer.get("result")

    def rpc_batch(
        self,
        calls: Iterable[tuple[str, Sequence[Any] | None]],
        *,
        raise_errors: bool = True,
        max_bytes: int = 1_500_000,
    ) -> list[Any]:
        """Send ``(method, params)`` pairs as JSON-RPC batches; return the results in order.

        The calls go in as few HTTP requests as fit in ``max_bytes`` of JSON each (anvil refuses a
        request body above 2 MiB with a bare "Invalid request").

        Args:
            calls: the calls.
            raise_errors: raise the first :class:`RpcError` (default), or else put an
                :class:`RpcError` instance in place of each failed result.
            max_bytes: the most JSON per HTTP request (a larger single call goes alone).
        """
        calls = list(calls)
        if not calls:
            return []
        first_id = self._next_id + 1
        self._next_id += len(calls)
        bodies: list[list[str]] = [[]]
        size = 0
        for index, (method, params) in enumerate(calls):
            item = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": first_id + index,
                    "method": method,
                    "params": list(params or []),
                },
                separators=(",", ":"),
            )
            if bodies[-1] and size + len(item) + 1 > max_bytes:
                bodies.append([])
                size = 0
            bodies[-1].append(item)
            size += len(item) + 1
        by_id: dict[Any, Any] = {}
        for body in bodies:
            answers = self._post_raw("[" + ",".join(body) + "]")
            if isinstance(answers, dict):  # the whole batch was refused
                error = answers.get("error") or {}
                raise RpcError(
                    "batch", error.get("code"), str(error.get("message")), error.get("data")
                )
            by_id.update((answer.get("id"), answer) for answer in answers)
        results: list[Any] = []
        for index, (method, _) in enumerate(calls):
            answer = by_id.get(first_id + index)
            if answer is None:
                failure = RpcError(method, None, "no answer in the batch response")
            elif "error" in answer:
                error = answer["error"] or {}
                failure = RpcError(
                    method, error.get("code"), str(error.get("message")), error.get("data")
                )
            else:
                results.append(answer.get("result"))
                continue
            if raise_errors:
                raise failure
            results.append(failure)
        return results

    # ---- chain state ---------------------------------------------------------------------------

    @property
    def accounts(self) -> list[str]:
        """The node's unlocked, funded accounts (anvil: 10), lowercase."""
        if self._accounts is None:
            self._accounts = [address.lower() for address in self.rpc("eth_accounts")]
        return list(self._accounts)

    def chain_id(self) -> int:
        """``eth_chainId`` as an int."""
        return _to_int(self.rpc("eth_chainId"))

    def block_number(self) -> int:
        """The latest block number."""
        return _to_int(self.rpc("eth_blockNumber"))

    def block(self, number: int | str = "latest", *, full: bool = False) -> dict[str, Any]:
        """``eth_getBlockByNumber``."""
        tag = hex(number) if isinstance(number, int) else number
        block: dict[str, Any] = self.rpc("eth_getBlockByNumber", [tag, full])
        return block

    def balance(self, address: str, block: int | str = "latest") -> int:
        """ETH balance in wei."""
        tag = hex(block) if isinstance(block, int) else block
        return _to_int(self.rpc("eth_getBalance", [address.lower(), tag]))

    def token_balance(self, token: str, holder: str) -> int:
        """ERC-20 ``balanceOf``."""
        value: int = self.call(token, "balanceOf(address)(uint256)", holder)
        return value

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """``eth_getTransactionReceipt`` (``None`` while pending)."""
        receipt: dict[str, Any] | None = self.rpc("eth_getTransactionReceipt", [tx_hash])
        return receipt

    def receipts(self, tx_hashes: Sequence[str]) -> list[dict[str, Any] | None]:
        """Receipts of many transactions, in batches."""
        out: list[dict[str, Any] | None] = []
        for start in range(0, len(tx_hashes), 500):
            chunk = tx_hashes[start : start + 500]
            out.extend(self.rpc_batch([("eth_getTransactionReceipt", [h]) for h in chunk]))
        return out

    def get_logs(
        self,
        from_block: int,
        to_block: int,
        *,
        address: str | Sequence[str] | None = None,
        topics: Sequence[str | Sequence[str] | None] | None = None,
    ) -> list[dict[str, Any]]:
        """``eth_getLogs`` over an inclusive block range (topics as 0x-hex strings)."""
        query: dict[str, Any] = {"fromBlock": hex(from_block), "toBlock": hex(to_block)}
        if address is not None:
            query["address"] = (
                address.lower() if isinstance(address, str) else [a.lower() for a in address]
            )
        if topics is not None:
            query["topics"] = list(topics)
        logs: list[dict[str, Any]] = self.rpc("eth_getLogs", [query])
        return logs

    def trace_block(self, number: int) -> list[dict[str, Any]]:
        """Parity-style ``trace_block``: a flat list of call frames with ``traceAddress``."""
        traces: list[dict[str, Any]] = self.rpc("trace_block", [hex(number)])
        return traces

    def debug_trace_block(self, number: int, tracer: str = "callTracer") -> list[dict[str, Any]]:
        """Geth-style ``debug_traceBlockByNumber``: one ``{"txHash", "result"}`` per transaction."""
        traces: list[dict[str, Any]] = self.rpc(
            "debug_traceBlockByNumber", [hex(number), {"tracer": tracer}]
        )
        return traces

    def debug_trace_transaction(self, tx_hash: str, tracer: str = "callTracer") -> dict[str, Any]:
        """Geth-style ``debug_traceTransaction`` (a nested call frame with ``calls``)."""
        trace: dict[str, Any] = self.rpc("debug_traceTransaction", [tx_hash, {"tracer": tracer}])
        return trace

    # ---- mining and state control (anvil / hardhat "evm_" methods) -----------------------------

    def mine(self, n: int = 1) -> int:
        """Mine ``n`` blocks (empty unless transactions are pending); return the block number."""
        if n < 0:
            raise ValueError("n must be >= 0")
        if n:
            self.rpc("anvil_mine", [hex(n)])
        return self.block_number()

    def snapshot(self) -> str:
        """``evm_snapshot``: an id to :meth:`revert` to."""
        snapshot_id: str = self.rpc("evm_snapshot")
        return snapshot_id

    def revert(self, snapshot_id: str) -> bool:
        """``evm_revert`` to a snapshot (which is then used up); whether it succeeded."""
        return bool(self.rpc("evm_revert", [snapshot_id]))

    def automine(self) -> bool:
        """Whether the node mines a block for each transaction."""
        return bool(self.rpc("anvil_getAutomine"))

    def set_automine(self, enabled: bool) -> None:
        """``evm_setAutomine``."""
        self.rpc("evm_setAutomine", [enabled])

    # ---- calls and transactions ----------------------------------------------------------------

    def _sender(self, sender: str | None) -> str:
        return (sender or self.accounts[0]).lower()

    def call(
        self,
        to: str,
        signature: str,
        *args: Any,
        sender: str | None = None,
        block: int | str = "latest",
    ) -> Any:
        """``eth_call`` a function given by a cast-style signature.

        ``chain.call(token, "balanceOf(address)(uint256)", holder)`` returns an int; with several
        return types a tuple; without return types the raw ``0x`` hex result.
        """
        _, _, outputs = _parse_signature(signature)
        tx: dict[str, Any] = {"to": to.lower(), "data": encode_call(signature, *args)}
        if sender:
            tx["from"] = sender.lower()
        tag = hex(block) if isinstance(block, int) else block
        raw: str = self.rpc("eth_call", [tx, tag])
        if outputs is None:
            return raw
        decoded = decode_output(outputs, raw)
        return decoded[0] if len(decoded) == 1 else decoded

    def send(self, tx: Mapping[str, Any], *, expect_success: bool = True) -> str:
        """``eth_sendTransaction`` (ints are hex-encoded for you); return the tx hash.

        With automine on (anvil's default) this waits until the transaction is mined; then, if
        ``expect_success``, a status-0 receipt raises :class:`TransactionFailed`. Without an
        explicit ``gas``, anvil does not estimate: it gives the transaction the whole block gas
        limit, so a failing transaction is still mined (status 0).
        """
        payload = _hexify_tx(tx)
        payload.setdefault("from", self.accounts[0])
        tx_hash: str = self.rpc("eth_sendTransaction", [payload])
        receipt = self.wait_for_receipt(tx_hash, timeout=self.timeout) if self.automine() else None
        if expect_success and receipt is not None and _to_int(receipt["status"]) != 1:
            raise TransactionFailed(tx_hash, receipt)
        return tx_hash

    def wait_for_receipt(self, tx_hash: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll ``eth_getTransactionReceipt`` until the transaction is mined.

        anvil's automine is asynchronous: ``eth_sendTransaction`` answers before the block exists
        (on a big state, mining a block takes a tenth of a second or more), so read receipts
        through this.

        Raises:
            TimeoutError: not mined within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            receipt = self.receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise TimeoutError(f"transaction {tx_hash} not mined within {timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def transact(
        self,
        to: str,
        signature: str,
        *args: Any,
        sender: str | None = None,
        value: int = 0,
        gas: int | None = None,
        expect_success: bool = True,
    ) -> str:
        """Send a function call as a transaction.

        ``chain.transact(token, "transfer(address,uint256)", to, 5, sender=a)``; see :meth:`send`.
        """
        tx: dict[str, Any] = {
            "from": self._sender(sender),
            "to": to.lower(),
            "data": encode_call(signature, *args),
            "value": value,
        }
        if gas is not None:
            tx["gas"] = gas
        return self.send(tx, expect_success=expect_success)

    def transfer_eth(self, to: str, value: int, *, sender: str | None = None) -> str:
        """A plain ETH transfer (21,000 gas)."""
        return self.send(
            {"from": self._sender(sender), "to": to.lower(), "value": value, "gas": 21000}
        )

    def deploy_data(self, contract_name: str, *ctor_args: Any) -> str:
        """Creation bytecode plus ABI-encoded constructor arguments."""
        artifact = load_artifacts()[contract_name]
        inputs: list[dict[str, Any]] = next(
            (
                item.get("inputs", [])
                for item in artifact["abi"]
                if item.get("type") == "constructor"
            ),
            [],
        )
        types = [item["type"] for item in inputs]
        if len(types) != len(ctor_args):
            raise ValueError(
                f"{contract_name} constructor takes {len(types)} arguments, got {len(ctor_args)}"
            )
        bytecode: str = artifact["bytecode"]
        return bytecode + (abi_encode(types, list(ctor_args)).hex() if types else "")

    def deploy(
        self,
        contract_name: str,
        *ctor_args: Any,
        sender: str | None = None,
        value: int = 0,
        gas: int | None = None,
    ) -> str:
        """Deploy a contract from ``contracts/artifacts.json``; return its lowercase address.

        Needs automine (the default) so that the receipt exists when the call returns.
        """
        tx: dict[str, Any] = {
            "from": self._sender(sender),
            "data": self.deploy_data(contract_name, *ctor_args),
            "value": value,
        }
        if gas is not None:
            tx["gas"] = gas
        tx_hash = self.send(tx)
        receipt = self.receipt(tx_hash)
        if receipt is None or not receipt.get("contractAddress"):
            raise DevChainError(
                f"deployment of {contract_name} ({tx_hash}) was not mined: is automine off?"
            )
        address: str = receipt["contractAddress"]
        return address.lower()

    def send_many(
        self,
        txs: Sequence[Mapping[str, Any]],
        *,
        default_gas: int | None = None,
        batch_size: int = 500,
        check_status: bool = False,
    ) -> list[str]:
        """Send many transactions fast and mine them all; return their hashes in the given order.

        The recipe that works on anvil: automine off, JSON-RPC batches of ``eth_sendTransaction``
        with explicit per-sender nonces (taken from ``eth_getTransactionCount(.., "pending")`` and
        counted up in list order, unless a transaction gives its own) and explicit gas, then
        ``evm_mine`` until the pool is empty, then automine back as it was. While mining, the next
        block's base fee is held at the current one, so full blocks cannot price the rest of the
        queue out. Blocks are filled up to the block gas limit, so transactions share blocks.

        Args:
            txs: transaction dicts (``from`` defaults to the first account; ints are fine).
            default_gas: gas for transactions that give none (else such a transaction is an
                error).
            batch_size: transactions per JSON-RPC batch.
            check_status: fetch all receipts afterwards and raise :class:`TransactionFailed` on
                status 0.

        Raises:
            ValueError: a transaction has no gas and there is no ``default_gas``.
            DevChainError: the node refused some transactions (the accepted ones are still
                mined), or the pool did not drain.
        """
        if not txs:
            return []
        prepared = [_hexify_tx(tx) for tx in txs]
        default_sender = self.accounts[0]
        for tx in prepared:
            tx.setdefault("from", default_sender)
            if "gas" not in tx:
                if default_gas is None:
                    raise ValueError(f"transaction without gas and no default_gas: {tx}")
                tx["gas"] = hex(default_gas)
        senders = sorted({tx["from"] for tx in prepared if "nonce" not in tx})
        counts = self.rpc_batch([("eth_getTransactionCount", [s, "pending"]) for s in senders])
        next_nonce = {s: _to_int(c) for s, c in zip(senders, counts, strict=True)}
        for tx in prepared:
            if "nonce" not in tx:
                tx["nonce"] = hex(next_nonce[tx["from"]])
                next_nonce[tx["from"]] += 1

        was_automine = self.automine()
        base_fee = self.block("latest").get("baseFeePerGas")
        hashes: list[str] = []
        refused: list[tuple[int, RpcError]] = []
        self.set_automine(False)
        try:
            for start in range(0, len(prepared), batch_size):
                chunk = prepared[start : start + batch_size]
                results = self.rpc_batch(
                    [("eth_sendTransaction", [tx]) for tx in chunk], raise_errors=False
                )
                for offset, result in enumerate(results):
                    if isinstance(result, RpcError):
                        refused.append((start + offset, result))
                        hashes.append("")
                    else:
                        hashes.append(str(result))
        finally:
            try:
                self._mine_pool(base_fee)
            finally:
                self.set_automine(was_automine)
        if refused:
            index, error = refused[0]
            raise DevChainError(
                f"{len(refused)} of {len(prepared)} transactions were refused; first: #{index} "
                f"{prepared[index]}: {error}"
            )
        if check_status:
            for tx_hash, receipt in zip(hashes, self.receipts(hashes), strict=True):
                if receipt is None:
                    raise DevChainError(f"transaction {tx_hash} has no receipt after mining")
                if _to_int(receipt["status"]) != 1:
                    raise TransactionFailed(tx_hash, receipt)
        return hashes

    def _pool_size(self) -> tuple[int, int]:
        status = self.rpc("txpool_status")
        return _to_int(status["pending"]), _to_int(status["queued"])

    def _mine_pool(self, base_fee: str | None) -> None:
        """Mine blocks until the transaction pool is empty (raises if it stops draining)."""
        pending, queued = self._pool_size()
        while pending or queued:
            if base_fee is not None:
                self.rpc("anvil_setNextBlockBaseFeePerGas", [base_fee])
            self.rpc("evm_mine")
            now_pending, now_queued = self._pool_size()
            if (now_pending, now_queued) == (pending, queued):
                raise DevChainError(
                    f"the transaction pool does not drain ({now_pending} pending, "
                    f"{now_queued} queued): "
                    "a nonce gap, a fee below the base fee, or gas above the block gas limit?"
                )
            pending, queued = now_pending, now_queued


# --------------------------------------------------------------------------------------------------
# Scenario
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenTransfer:
    """One ERC-20 ``Transfer`` log (mints have ``from_address`` = the zero address)."""

    block_number: int
    tx_hash: str
    log_index: int
    token: str
    from_address: str
    to_address: str
    value: int


@dataclass(frozen=True)
class NftTransfer:
    """One ERC-721 ``Transfer`` log (4 topics, token id in topic 3, empty data)."""

    block_number: int
    tx_hash: str
    log_index: int
    token: str
    from_address: str
    to_address: str
    token_id: int


@dataclass(frozen=True)
class NativeTransfer:
    """One ETH value transfer that took effect: ``value > 0``, in a successful frame and tx.

    ``internal`` is False for the transaction's own value (depth 0) and True for value moved by a
    contract's message call (depth 1 = a call made by the called contract, 2 = one level deeper).
    """

    block_number: int
    tx_hash: str
    from_address: str
    to_address: str
    value: int
    internal: bool
    depth: int


@dataclass(frozen=True)
class Scenario:
    """What :func:`seed_scenario` created: the exact rows an indexer must find in its block range.

    ``token_transfers`` holds every ERC-20 Transfer log of the scenario (mints included), ordered by
    (block, log index). ``native_transfers`` holds every ETH movement that took effect, in
    execution order; not listed: zero-value calls, the reverted transaction (``reverted_tx``: its
    own value and its internal transfer), the failed internal call of ``failed_internal_tx`` (its
    transaction succeeded, and its top-level value to the Forwarder *is* listed), and gas fees.
    """

    chain_id: int
    start_block: int
    end_block: int
    deployer: str
    usdt: str
    usdc: str
    nft: str
    forwarder: str
    forwarder_b: str
    accounts: tuple[str, ...]
    fresh_addresses: tuple[str, ...]
    token_transfers: tuple[TokenTransfer, ...]
    nft_transfers: tuple[NftTransfer, ...]
    native_transfers: tuple[NativeTransfer, ...]
    reverted_tx: str
    failed_internal_tx: str
    nested_tx: str
    zero_value_tx: str
    transfer_from_tx: str
    max_value_holder: str
    max_value_recipient: str
    max_value_mint_tx: str
    max_value_transfer_tx: str
    multi_tx_block: int
    empty_blocks: tuple[int, ...]
    tx_hashes: tuple[str, ...] = field(default=())
    """Every transaction in ``start_block..end_block``, in chain order (deployments included)."""

    @property
    def tokens(self) -> dict[str, str]:
        """``{symbol: address}`` of the ERC-20 tokens."""
        return {"USDT": self.usdt, "USDC": self.usdc}

    def transfers_of(self, token: str) -> tuple[TokenTransfer, ...]:
        """The expected ERC-20 transfers of one token (address)."""
        token = token.lower()
        return tuple(t for t in self.token_transfers if t.token == token)


def _fresh_address(label: str) -> str:
    return "0x" + keccak(text=f"exposure-devchain:{label}")[-20:].hex()


def _expect_token_logs(
    receipt: Mapping[str, Any], token: str, expected: Sequence[tuple[str, str, int]]
) -> list[TokenTransfer]:
    """Match a receipt's ERC-20 Transfer logs of ``token`` against the intended ones."""
    logs = [
        log
        for log in receipt["logs"]
        if log["address"].lower() == token
        and len(log["topics"]) == 3
        and log["topics"][0] == TRANSFER_TOPIC
    ]
    found = [
        (_topic_address(log["topics"][1]), _topic_address(log["topics"][2]), _to_int(log["data"]))
        for log in logs
    ]
    if found != [(f.lower(), t.lower(), v) for f, t, v in expected]:
        raise DevChainError(
            f"tx {receipt['transactionHash']}: expected Transfer logs {expected}, found {found}"
        )
    return [
        TokenTransfer(
            block_number=_to_int(receipt["blockNumber"]),
            tx_hash=receipt["transactionHash"],
            log_index=_to_int(log["logIndex"]),
            token=token,
            from_address=f,
            to_address=t,
            value=v,
        )
        for log, (f, t, v) in zip(logs, found, strict=True)
    ]


def seed_scenario(chain: DevChain) -> Scenario:
    """Play a varied, fixed history on ``chain`` (anvil, automine on) and describe it.

    Phases, with empty blocks mined between them: deployments (two 6-decimal TestTokens "USDT" and
    "USDC", a TestNFT, two Forwarders); mints; ordinary transfers between funded accounts and fresh
    addresses, a transfer of 0, a self-transfer, an approve + transferFrom by a third party; one
    block holding several transactions from several senders (log indexes run across them); a mint
    of 2**256-1 and its transfer onward; NFT mints and transfers (4-topic Transfer logs); plain ETH
    transfers, one to a contract; internal ETH transfers through a Forwarder (with a zero-value
    call among them) and through two Forwarders (depth 2); a reverted ETH-carrying transaction
    whose internal transfer did not happen; a successful transaction whose internal transfer
    failed.

    Every Transfer log is checked against what was intended while playing. It can be run more than
    once on the same chain (new contracts each time). Uses accounts 0-9 of the node.
    """
    accounts = chain.accounts
    if len(accounts) < 10:
        raise DevChainError(
            f"seed_scenario needs 10 unlocked accounts, the node has {len(accounts)}"
        )
    a = accounts
    fresh = tuple(_fresh_address(f"fresh-{i}") for i in range(6))
    f0, f1, f2, f3, f4, f5 = fresh
    start_block = chain.block_number() + 1
    tx_hashes: list[str] = []
    token_transfers: list[TokenTransfer] = []
    nft_transfers: list[NftTransfer] = []
    native: list[NativeTransfer] = []
    empty_blocks: list[int] = []

    def receipt_of(tx_hash: str) -> dict[str, Any]:
        receipt = chain.receipt(tx_hash)
        if receipt is None:
            raise DevChainError(
                f"transaction {tx_hash} was not mined: seed_scenario needs automine"
            )
        tx_hashes.append(tx_hash)
        return receipt

    def token_tx(
        token: str, sender: str, signature: str, *args: Any, expect: Sequence[tuple[str, str, int]]
    ) -> str:
        tx_hash = chain.transact(token, signature, *args, sender=sender)
        token_transfers.extend(_expect_token_logs(receipt_of(tx_hash), token, expect))
        return tx_hash

    def mine_empty(n: int) -> None:
        first = chain.block_number() + 1
        chain.mine(n)
        empty_blocks.extend(range(first, first + n))

    def eth_tx(
        sender: str, to: str, value: int, data: str = "0x", gas: int | None = None, **kw: Any
    ) -> str:
        tx: dict[str, Any] = {"from": sender, "to": to, "value": value, "data": data}
        if gas is not None:
            tx["gas"] = gas
        tx_hash = chain.send(tx, **kw)
        receipt_of(tx_hash)
        return tx_hash

    def add_native(tx_hash: str, moves: Sequence[tuple[str, str, int, int]]) -> None:
        block = _to_int(chain.receipt(tx_hash)["blockNumber"])  # type: ignore[index]
        for from_address, to_address, value, depth in moves:
            native.append(
                NativeTransfer(block, tx_hash, from_address, to_address, value, depth > 0, depth)
            )

    # Phase 1: deployments (one block each).
    deployer = a[0]
    usdt = chain.deploy("TestToken", "Tether USD", "USDT", 6, sender=deployer)
    usdc = chain.deploy("TestToken", "USD Coin", "USDC", 6, sender=deployer)
    nft = chain.deploy("TestNFT", "Test NFT", "TNFT", sender=deployer)
    forwarder = chain.deploy("Forwarder", sender=deployer)
    forwarder_b = chain.deploy("Forwarder", sender=deployer)
    mine_empty(2)

    # Phase 2: mints.
    mint = "mint(address,uint256)"
    zero = ZERO_ADDRESS
    token_tx(
        usdt, deployer, mint, a[1], 1_000_000 * 10**6, expect=[(zero, a[1], 1_000_000 * 10**6)]
    )
    token_tx(usdt, deployer, mint, a[2], 500_000 * 10**6, expect=[(zero, a[2], 500_000 * 10**6)])
    token_tx(usdc, deployer, mint, a[1], 250_000 * 10**6, expect=[(zero, a[1], 250_000 * 10**6)])
    token_tx(usdc, deployer, mint, a[3], 100_000 * 10**6, expect=[(zero, a[3], 100_000 * 10**6)])

    # Phase 3: ordinary transfers (one block each).
    transfer = "transfer(address,uint256)"
    token_tx(usdt, a[1], transfer, a[2], 1_000 * 10**6, expect=[(a[1], a[2], 1_000 * 10**6)])
    token_tx(usdt, a[1], transfer, f0, 2_500_500_000, expect=[(a[1], f0, 2_500_500_000)])
    token_tx(usdt, a[2], transfer, f1, 42, expect=[(a[2], f1, 42)])
    token_tx(usdc, a[1], transfer, f0, 10 * 10**6, expect=[(a[1], f0, 10 * 10**6)])
    token_tx(usdc, a[3], transfer, a[4], 99_999 * 10**6, expect=[(a[3], a[4], 99_999 * 10**6)])
    zero_value_tx = token_tx(usdt, a[2], transfer, f2, 0, expect=[(a[2], f2, 0)])
    token_tx(usdc, a[1], transfer, a[1], 5 * 10**6, expect=[(a[1], a[1], 5 * 10**6)])
    receipt_of(chain.transact(usdt, "approve(address,uint256)", a[3], 10_000 * 10**6, sender=a[2]))
    transfer_from_tx = token_tx(
        usdt,
        a[3],
        "transferFrom(address,address,uint256)",
        a[2],
        f3,
        7_000 * 10**6,
        expect=[(a[2], f3, 7_000 * 10**6)],
    )
    mine_empty(3)

    # Phase 4: one block, several transactions and senders (a[1] sends three, in nonce order).
    batch = "batchTransfer(address[],uint256[])"
    planned: list[tuple[str, str, str, list[Any], list[tuple[str, str, int]]]] = [
        (usdt, a[1], transfer, [f4, 1 * 10**6], [(a[1], f4, 1 * 10**6)]),
        (usdt, a[2], transfer, [f4, 2 * 10**6], [(a[2], f4, 2 * 10**6)]),
        (usdc, a[1], transfer, [f4, 3 * 10**6], [(a[1], f4, 3 * 10**6)]),
        (
            usdt,
            a[1],
            batch,
            [[f0, f1, f2], [1, 2, 3]],
            [(a[1], f0, 1), (a[1], f1, 2), (a[1], f2, 3)],
        ),
    ]
    hashes = chain.send_many(
        [
            {"from": sender, "to": token, "data": encode_call(sig, *args), "gas": 200_000}
            for token, sender, sig, args, _ in planned
        ],
        check_status=True,
    )
    blocks = set()
    for tx_hash, (token, _, _, _, expect) in zip(hashes, planned, strict=True):
        receipt = receipt_of(tx_hash)
        blocks.add(_to_int(receipt["blockNumber"]))
        token_transfers.extend(_expect_token_logs(receipt, token, expect))
    if len(blocks) != 1:
        raise DevChainError(f"the multi-transaction phase spread over blocks {sorted(blocks)}")
    multi_tx_block = blocks.pop()
    mine_empty(1)

    # Phase 5: a mint of 2**256-1 (a[5] holds no USDT yet) and its transfer onward to a fresh
    # address.
    max_value_mint_tx = token_tx(
        usdt, deployer, mint, a[5], MAX_UINT256, expect=[(zero, a[5], MAX_UINT256)]
    )
    max_value_transfer_tx = token_tx(
        usdt, a[5], transfer, f5, MAX_UINT256, expect=[(a[5], f5, MAX_UINT256)]
    )
    mine_empty(2)

    # Phase 6: NFTs (Transfer logs with 4 topics: not ERC-20).
    big_id = 2**200 + 7
    for sender, signature, args, (from_address, to_address, token_id) in [
        (deployer, "mint(address,uint256)", [a[1], 1], (zero, a[1], 1)),
        (deployer, "mint(address,uint256)", [a[2], big_id], (zero, a[2], big_id)),
        (a[1], "transferFrom(address,address,uint256)", [a[1], f0, 1], (a[1], f0, 1)),
        (
            a[2],
            "safeTransferFrom(address,address,uint256)",
            [a[2], a[3], big_id],
            (a[2], a[3], big_id),
        ),
    ]:
        tx_hash = chain.transact(nft, signature, *args, sender=sender)
        receipt = receipt_of(tx_hash)
        logs = [log for log in receipt["logs"] if log["topics"][0] == TRANSFER_TOPIC]
        if len(logs) != 1 or len(logs[0]["topics"]) != 4:
            raise DevChainError(f"NFT transaction {tx_hash}: unexpected logs {receipt['logs']}")
        log = logs[0]
        found = (
            _topic_address(log["topics"][1]),
            _topic_address(log["topics"][2]),
            _to_int(log["topics"][3]),
        )
        if found != (from_address, to_address, token_id):
            raise DevChainError(
                f"NFT transaction {tx_hash}: expected "
                f"{(from_address, to_address, token_id)}, found {found}"
            )
        nft_transfers.append(
            NftTransfer(
                _to_int(receipt["blockNumber"]), tx_hash, _to_int(log["logIndex"]), nft, *found
            )
        )
    mine_empty(1)

    # Phase 7: plain ETH transfers, one of them to a contract (its receive()).
    for sender, to, value in [
        (a[6], f0, 1 * _ETHER),
        (a[6], a[7], _ETHER // 2),
        (a[7], forwarder, _ETHER // 4),
    ]:
        gas = 21_000 if to != forwarder else 50_000
        add_native(eth_tx(sender, to, value, gas=gas), [(sender, to, value, 0)])
    mine_empty(2)

    # Phase 8: internal transfers through a Forwarder (one zero-value call among them) ...
    amounts = [_ETHER // 10, _ETHER // 5, 0]
    tx_hash = eth_tx(
        a[8],
        forwarder,
        sum(amounts),
        encode_call("forward(address[],uint256[])", [f1, f2, a[9]], amounts),
    )
    add_native(
        tx_hash,
        [
            (a[8], forwarder, sum(amounts), 0),
            (forwarder, f1, amounts[0], 1),
            (forwarder, f2, amounts[1], 1),
        ],
    )
    # ... and through two Forwarders: a[8] -> forwarder -> forwarder_b -> f3, f4 (depth 2).
    amounts = [_ETHER // 20, 7 * _ETHER // 100]
    data = encode_call("forwardVia(address,address[],uint256[])", forwarder_b, [f3, f4], amounts)
    nested_tx = eth_tx(a[8], forwarder, sum(amounts), data)
    add_native(
        nested_tx,
        [
            (a[8], forwarder, sum(amounts), 0),
            (forwarder, forwarder_b, sum(amounts), 1),
            (forwarder_b, f3, amounts[0], 2),
            (forwarder_b, f4, amounts[1], 2),
        ],
    )
    mine_empty(1)

    # Phase 9: failures. A reverted transaction carrying ETH (explicit gas, so it is mined) ...
    reverted_tx = eth_tx(
        a[9],
        forwarder,
        _ETHER,
        encode_call("forwardThenRevert(address)", f0),
        gas=200_000,
        expect_success=False,
    )
    if _to_int(chain.receipt(reverted_tx)["status"]) != 0:  # type: ignore[index]
        raise DevChainError(f"forwardThenRevert did not revert: {reverted_tx}")
    # ... and a successful one whose internal transfer fails (a TestToken accepts no ETH).
    value = 3 * _ETHER // 10
    failed_internal_tx = eth_tx(
        a[9], forwarder, value, encode_call("tryForward(address)", usdt), gas=200_000
    )
    add_native(failed_internal_tx, [(a[9], forwarder, value, 0)])
    mine_empty(2)

    token_transfers.sort(key=lambda t: (t.block_number, t.log_index))
    end_block = chain.block_number()
    blocks_played = chain.rpc_batch(
        [("eth_getBlockByNumber", [hex(n), False]) for n in range(start_block, end_block + 1)]
    )
    all_tx_hashes = tuple(str(h) for block in blocks_played for h in block["transactions"])
    if not set(tx_hashes) <= set(all_tx_hashes):
        raise DevChainError("seed_scenario: some of its transactions are outside its block range")
    return Scenario(
        chain_id=chain.chain_id(),
        start_block=start_block,
        end_block=end_block,
        deployer=deployer,
        usdt=usdt,
        usdc=usdc,
        nft=nft,
        forwarder=forwarder,
        forwarder_b=forwarder_b,
        accounts=tuple(a),
        fresh_addresses=fresh,
        token_transfers=tuple(token_transfers),
        nft_transfers=tuple(nft_transfers),
        native_transfers=tuple(native),
        reverted_tx=reverted_tx,
        failed_internal_tx=failed_internal_tx,
        nested_tx=nested_tx,
        zero_value_tx=zero_value_tx,
        transfer_from_tx=transfer_from_tx,
        max_value_holder=a[5],
        max_value_recipient=f5,
        max_value_mint_tx=max_value_mint_tx,
        max_value_transfer_tx=max_value_transfer_tx,
        multi_tx_block=multi_tx_block,
        empty_blocks=tuple(empty_blocks),
        tx_hashes=all_tx_hashes,
    )


def seed_many_transfers(
    chain: DevChain,
    token_address: str,
    n_logs: int,
    per_tx: int = 100,
    seed: int = 0,
    *,
    logs_per_block: int | None = 5_000,
) -> int:
    """Produce ``n_logs`` ERC-20 Transfer logs of a TestToken fast; return the last block number.

    Exactly ``n_logs`` Transfer logs of the token appear: first a mint of the total to the token's
    owner (one of the node's accounts), then ``n_logs - 1`` transfers from the owner, sent as
    ``batchTransfer``\\ s of ``per_tx`` recipients each through :meth:`DevChain.send_many`, to
    pseudo-random fresh addresses with pseudo-random values (both fixed by ``seed``). Checks
    afterwards that every transfer took effect.

    anvil spends time proportional to the size of the whole state on every block it mines (about
    0.15 s per block once 100,000 balances exist), so many small blocks make big seedings slow.
    With ``logs_per_block`` (default 5,000) the block gas limit is raised while seeding so that
    blocks hold about that many logs, and put back afterwards; ``None`` keeps the node's gas limit
    (30M gas: about 1,100 logs per block; 200,000 logs then take about 45 s instead of 10 s).
    """
    if n_logs <= 0:
        return chain.block_number()
    if per_tx <= 0:
        raise ValueError("per_tx must be > 0")
    token = token_address.lower()
    owner: str = chain.call(token, "owner()(address)")
    if owner not in chain.accounts:
        raise DevChainError(f"the token's owner {owner} is not an unlocked account of the node")
    rng = random.Random(seed)
    n_transfers = n_logs - 1
    recipients = ["0x" + rng.randbytes(20).hex() for _ in range(n_transfers)]
    values = [rng.randrange(1, 10**12) for _ in range(n_transfers)]
    balance_before = chain.token_balance(token, owner)
    chain.transact(token, "mint(address,uint256)", owner, sum(values), sender=owner)
    if not n_transfers:
        return chain.block_number()
    chunks = [
        (recipients[i : i + per_tx], values[i : i + per_tx]) for i in range(0, n_transfers, per_tx)
    ]
    # All recipients are fresh (new storage slots): the first chunk's gas is a good guide for all.
    estimate = _to_int(
        chain.rpc(
            "eth_estimateGas",
            [{"from": owner, "to": token, "data": _encode_batch_transfer(*chunks[0])}],
        )
    )
    gas = int(estimate * 1.25) + 50_000
    old_limit = _to_int(chain.block("latest")["gasLimit"])
    new_limit = old_limit
    if logs_per_block is not None:
        new_limit = max(estimate * max(1, logs_per_block // per_tx) + gas, old_limit)
    if gas > new_limit:
        raise ValueError(
            f"per_tx={per_tx} needs about {gas} gas, above the block gas limit {new_limit}"
        )
    txs = [
        {"from": owner, "to": token, "data": _encode_batch_transfer(r, v), "gas": gas}
        for r, v in chunks
    ]
    if new_limit != old_limit:
        chain.rpc("anvil_setBlockGasLimit", [hex(new_limit)])
    try:
        chain.send_many(txs)
    finally:
        if new_limit != old_limit:
            chain.rpc("anvil_setBlockGasLimit", [hex(old_limit)])
    balance_after = chain.token_balance(token, owner)
    if balance_after != balance_before:
        raise DevChainError(
            f"seed_many_transfers: {token} owner balance {balance_after} != {balance_before}: "
            "some batches failed"
        )
    return chain.block_number()
