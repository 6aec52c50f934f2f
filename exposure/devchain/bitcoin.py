"""A real local Bitcoin node (bcoin in regtest mode) and wallet transactions played on it.

Used by the tests and the demo, like :class:`exposure.devchain.Anvil` for Ethereum. Two layers:

* :func:`find_bcoin` and :class:`Bcoin` locate and run bcoin (npm package ``bcoin`` 1.0.2, with
  ``leveldown`` overridden to 6.1.1 for Node 20) in memory on ``127.0.0.1``, with free ports for
  the node's and the wallet's HTTP servers and a random API key.
* :class:`BtcDevChain` talks to it: node JSON-RPC (``getblockcount``, ``generatetoaddress``,
  ``invalidateblock``, ...) and the wallet's HTTP API (wallets, receive addresses, sends), and
  :meth:`BtcDevChain.consolidate`, which makes multi-input transactions whose inputs come from
  distinct addresses (what the common-input-ownership heuristic links).

The node's URL carries the API key as basic-auth userinfo (``http://x:KEY@127.0.0.1:PORT/``):
it is a secret, and anything that shows or stores it must redact it
(:func:`exposure.config.redact_url`).

bcoin's quirks, as met here: regtest P2PKH addresses start with ``R`` (not Bitcoin Core's
``m``/``n``), its verbose ``getblock`` takes booleans and lists an old ``addresses[]`` array, its
wallet learns of new blocks about a second after the node, and ``--max-outbound=0`` crashes it.
Coinbase outputs mature after 100 blocks, and the block subsidy halves every 150 blocks. Segwit
is a BIP9 deployment on bcoin's regtest (not active from genesis as in Bitcoin Core): it is active
from height 432 (:data:`SEGWIT_HEIGHT`). A transaction the node's mempool refuses (a witness spend
before then, a fee its own wallet underestimated) is only logged: the wallet keeps it as pending
and ``sendrawtransaction`` still answers its txid, so :meth:`BtcDevChain.send` checks the mempool.
``invalidateblock`` drops the abandoned branch's transactions instead of returning them to the
mempool.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests

from . import (
    DevChainError,
    RpcError,
    _finalize_process,
    _free_port,
    _is_executable,
    _NodeProcess,
)

__all__ = [
    "SEGWIT_HEIGHT",
    "Bcoin",
    "BtcDevChain",
    "Consolidation",
    "find_bcoin",
]

#: First height at which bcoin's regtest enforces segwit (BIP9: 3 windows of 144 blocks).
SEGWIT_HEIGHT = 432

_INSTALL_HINT = (
    "bcoin (a JavaScript Bitcoin full node) was not found. Install it with `npm ci` in the "
    "repository (package.json pins bcoin 1.0.2 with the leveldown override Node 20 needs), put "
    "`bcoin` on PATH, or set EXPOSURE_BCOIN to its executable."
)

def find_bcoin() -> str:
    """Return the path of a ``bcoin`` executable.

    Looked up in order: the environment variable ``EXPOSURE_BCOIN``; ``bcoin`` on ``PATH``;
    ``node_modules/.bin/bcoin`` in the current directory or any parent; the same under the
    repository root (the parent of the ``exposure`` package).

    Raises:
        FileNotFoundError: if none is found (the message says to run ``npm ci``), or if
            ``EXPOSURE_BCOIN`` names something that is not an executable file.
    """
    env = os.environ.get("EXPOSURE_BCOIN")
    if env:
        if not _is_executable(Path(env)):
            raise FileNotFoundError(
                f"EXPOSURE_BCOIN={env!r} is not an executable file. {_INSTALL_HINT}"
            )
        return env
    on_path = shutil.which("bcoin")
    if on_path:
        return on_path
    cwd = Path.cwd().resolve()
    repo_root = Path(__file__).resolve().parent.parent.parent
    for directory in (cwd, *cwd.parents, repo_root):
        candidate = directory / "node_modules" / ".bin" / "bcoin"
        if _is_executable(candidate):
            return str(candidate)
    raise FileNotFoundError(_INSTALL_HINT)


class Bcoin(_NodeProcess):
    """A bcoin regtest node (with its wallet) in a subprocess, in memory, on ``127.0.0.1``.

    Use as a context manager::

        with Bcoin() as node, node.chain() as btc:
            btc.mine(101)

    Args:
        *extra_args: more bcoin options, e.g. ``"--index-tx=false"`` (later options win).
        executable: path of bcoin; default :func:`find_bcoin`.
        startup_timeout: seconds to wait for the node's JSON-RPC and the wallet's HTTP to answer.

    Attributes:
        url: the node's JSON-RPC endpoint, ``http://x:KEY@127.0.0.1:PORT/`` (holds the secret).
        wallet_url: the wallet's HTTP endpoint, with the same credentials.
        api_key: the random key both servers require.
        port, wallet_port: the ports chosen.
        process: the subprocess (``None`` before :meth:`start`).
    """

    def __init__(
        self,
        *extra_args: str,
        executable: str | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.extra_args = tuple(extra_args)
        self.executable = executable
        self.startup_timeout = startup_timeout
        self.host = "127.0.0.1"
        self.api_key = secrets.token_hex(16)
        self.port = 0
        self.wallet_port = 0
        self.url = ""
        self.wallet_url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._prefix: tempfile.TemporaryDirectory[str] | None = None
        self._stderr: IO[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def start(self) -> Bcoin:
        """Start bcoin and wait until its JSON-RPC and wallet answer; return ``self``.

        Raises:
            FileNotFoundError: bcoin cannot be found.
            DevChainError: bcoin exited during start-up (its output is in the message).
            TimeoutError: it did not answer within ``startup_timeout`` seconds.
        """
        if self.running:
            return self
        executable = self.executable or find_bcoin()
        last: Exception | None = None
        for _ in range(3):  # a free port can be taken between choosing it and binding it
            try:
                self._launch(executable)
                return self
            except DevChainError as exc:
                last = exc
        assert last is not None
        raise last

    def _launch(self, executable: str) -> None:
        self.port = _free_port(self.host)
        self.wallet_port = _free_port(self.host)
        while self.wallet_port == self.port:
            self.wallet_port = _free_port(self.host)
        self._prefix = tempfile.TemporaryDirectory(prefix="exposure-bcoin-")
        auth = f"x:{self.api_key}@{self.host}"
        self.url = f"http://{auth}:{self.port}/"
        self.wallet_url = f"http://{auth}:{self.wallet_port}/"
        args = [
            executable,
            "--network=regtest",
            "--memory=true",
            f"--prefix={self._prefix.name}",
            f"--http-host={self.host}",
            f"--http-port={self.port}",
            f"--wallet-http-host={self.host}",
            f"--wallet-http-port={self.wallet_port}",
            f"--api-key={self.api_key}",
            "--listen=false",  # no inbound P2P; never --max-outbound=0, which crashes bcoin
            "--workers=false",
            "--index-tx=true",
            "--log-level=warning",
            *self.extra_args,
        ]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop()/kill())
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=self._stderr,
            start_new_session=True,  # its own process group: stop()/kill() reach node's children
        )
        self._finalizer = weakref.finalize(self, _finalize_process, self.process)
        deadline = time.monotonic() + self.startup_timeout
        session = requests.Session()
        try:
            while True:
                if self.process.poll() is not None:
                    output = self._read_output()
                    self._cleanup()
                    raise DevChainError(
                        f"bcoin exited with code {self.process.returncode} during start-up: "
                        f"{output or 'no output'}"
                    )
                try:
                    node = session.post(
                        self.url, json={"method": "getblockcount", "params": [], "id": 1},
                        timeout=1.0,
                    )
                    wallet = session.get(self.wallet_url + "wallet/primary", timeout=1.0)
                    if node.ok and "result" in node.json() and wallet.ok:
                        return
                except (requests.RequestException, ValueError):
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise TimeoutError(
                        f"bcoin did not answer on 127.0.0.1:{self.port} within "
                        f"{self.startup_timeout:g} s"
                    )
                time.sleep(0.05)
        finally:
            session.close()

    def _read_output(self) -> str:
        return self._read_stderr().replace(self.api_key, "***")

    def _cleanup(self) -> None:
        super()._cleanup()
        if self._prefix is not None:
            self._prefix.cleanup()
            self._prefix = None

    def chain(self, timeout: float = 60.0) -> BtcDevChain:
        """A :class:`BtcDevChain` client for this node and its wallet."""
        if not self.url:
            raise DevChainError("bcoin is not started")
        return BtcDevChain(self.url, self.wallet_url, timeout=timeout, log=self._read_output)

    def __repr__(self) -> str:  # never shows the key
        state = "running" if self.running else "stopped"
        return f"Bcoin(127.0.0.1:{self.port or '-'}, {state})"


@dataclass(frozen=True)
class Consolidation:
    """What :meth:`BtcDevChain.consolidate` played.

    ``funding_txid`` paid ``len(addresses)`` outputs (one per address of the ``wallet``), and
    ``spend_txid`` spent all of them at once (``len(addresses)`` inputs) to ``to_address``.
    """

    wallet: str
    addresses: tuple[str, ...]
    funding_txid: str
    spend_txid: str
    to_address: str


class BtcDevChain:
    """A client for a bcoin regtest node (``url``) and its wallet server (``wallet_url``).

    Amounts are satoshi integers. Wallet ``primary`` exists from the start; mining defaults to
    one of its receive addresses, so it holds the coinbase coins.
    """

    def __init__(
        self,
        url: str,
        wallet_url: str,
        *,
        timeout: float = 60.0,
        log: Callable[[], str] | None = None,
    ) -> None:
        self.url = url
        self._log = log
        self.wallet_url = wallet_url.rstrip("/") + "/"
        self.timeout = timeout
        self._session = requests.Session()
        self._next_id = 1
        self._mining_address: str | None = None

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def __enter__(self) -> BtcDevChain:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "BtcDevChain(bcoin regtest)"

    # -- node JSON-RPC -----------------------------------------------------------------------
    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        """Call a node JSON-RPC method; raise :class:`RpcError` for an error answer."""
        return self.rpc_batch([(method, params)])[0]

    def rpc_batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several node JSON-RPC calls in one HTTP request; results in order."""
        if not calls:
            return []
        first = self._next_id
        self._next_id += len(calls)
        payload = [
            {"jsonrpc": "2.0", "id": first + i, "method": m, "params": list(p)}
            for i, (m, p) in enumerate(calls)
        ]
        answer = self._session.post(self.url, json=payload, timeout=self.timeout).json()
        by_id = {item.get("id"): item for item in answer}
        out = []
        for i, (method, _) in enumerate(calls):
            item = by_id[first + i]
            if item.get("error"):
                err = item["error"]
                raise RpcError(method, err.get("code"), err.get("message", ""))
            out.append(item.get("result"))
        return out

    def block_count(self) -> int:
        """The height of the node's best chain."""
        return int(self.rpc("getblockcount"))

    def block_hashes(self, first: int, last: int) -> list[str]:
        """Hashes of blocks ``first..last`` of the best chain."""
        return self.rpc_batch([("getblockhash", [h]) for h in range(first, last + 1)])

    def block(self, block_hash: str) -> dict[str, Any]:
        """The node's verbose view of a block, with full transactions (bcoin's dialect:
        scriptPubKey ``addresses[]`` in bcoin's regtest encoding; compare scripts, not those)."""
        return self.rpc("getblock", [block_hash, True, True])

    def raw_block(self, block_hash: str) -> bytes:
        """The serialised block."""
        return bytes.fromhex(self.rpc("getblock", [block_hash, False]))

    def raw_transaction(self, txid: str) -> bytes:
        """A serialised transaction (needs the node's ``--index-tx``)."""
        return bytes.fromhex(self.rpc("getrawtransaction", [txid, False]))

    def mine(self, n: int = 1, address: str | None = None) -> list[str]:
        """Mine ``n`` blocks paying ``address`` (default: the primary wallet) and return their
        hashes. When mining to the primary wallet, wait until the wallet has seen the last one."""
        target = address or self.mining_address()
        hashes: list[str] = self.rpc("generatetoaddress", [n, target])
        if address is None and hashes:
            self.wait_wallet_block(self.block_count())
        return hashes

    def activate_segwit(self) -> None:
        """Mine (to the primary wallet) up to :data:`SEGWIT_HEIGHT`, where bcoin's regtest starts
        to accept spends of witness outputs; this also matures the first coinbase outputs."""
        missing = SEGWIT_HEIGHT - self.block_count()
        if missing > 0:
            self.mine(missing)
        forks = self.rpc("getblockchaininfo").get("bip9_softforks", {})
        if forks.get("segwit", {}).get("status", "active") != "active":
            raise DevChainError(f"segwit is not active at height {self.block_count()}")

    def mining_address(self) -> str:
        """The primary wallet's address that :meth:`mine` pays by default."""
        if self._mining_address is None:
            self._mining_address = self.new_address("primary")
        return self._mining_address

    def invalidate(self, block_hash: str) -> None:
        """Mark a block (and its descendants) invalid: the chain falls back to its parent, and
        mining continues on another branch (a reorganisation). bcoin drops the abandoned
        blocks' transactions instead of returning them to its mempool."""
        self.rpc("invalidateblock", [block_hash])

    # -- wallet HTTP ---------------------------------------------------------------------------
    def _wallet(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        response = self._session.request(
            method, self.wallet_url + path.lstrip("/"), json=body, timeout=self.timeout
        )
        if response.status_code >= 400:
            try:
                message = response.json().get("error", {}).get("message", "")
            except ValueError:
                message = response.text[:200]
            raise DevChainError(f"wallet {method} /{path.lstrip('/')}: HTTP "
                                f"{response.status_code} {message}")
        return response.json()

    def create_wallet(self, wallet: str, *, witness: bool = False) -> None:
        """Create a wallet; ``witness`` gives it native segwit (P2WPKH, ``rb1...``) addresses."""
        self._wallet("PUT", f"wallet/{wallet}", {"witness": witness})

    def new_address(self, wallet: str = "primary", *, nested: bool = False) -> str:
        """A fresh receive address of ``wallet`` (``nested``: P2SH-wrapped segwit, for segwit
        wallets only)."""
        kind = "nested" if nested else "address"
        answer = self._wallet("POST", f"wallet/{wallet}/{kind}", {"account": "default"})
        return str(answer["address"])

    def balance(self, wallet: str = "primary") -> dict[str, int]:
        """``{"confirmed": sat, "unconfirmed": sat, "coin": n, "tx": n}`` as the wallet sees it
        (``unconfirmed`` includes confirmed coins; it is the balance after the mempool)."""
        return dict(self._wallet("GET", f"wallet/{wallet}/balance"))

    def coins(self, wallet: str = "primary") -> list[dict[str, Any]]:
        """The wallet's unspent coins (bcoin JSON: hash, index, value, address, height, ...)."""
        return list(self._wallet("GET", f"wallet/{wallet}/coin"))

    def wallet_tx(self, wallet: str, txid: str) -> dict[str, Any] | None:
        """The wallet's record of a transaction (``height`` -1 while unconfirmed), or None."""
        try:
            return dict(self._wallet("GET", f"wallet/{wallet}/tx/{txid}"))
        except DevChainError:
            return None

    def send(
        self,
        outputs: Sequence[tuple[str, int]],
        *,
        wallet: str = "primary",
        rate: int = 10_000,
        selection: str | None = None,
        subtract_fee: bool = False,
        scripts: Sequence[tuple[bytes, int]] = (),
    ) -> str:
        """Send ``[(address, sat), ...]`` (plus raw-script outputs ``[(script, sat)]``, e.g.
        OP_RETURN) from ``wallet`` at ``rate`` sat/kvB; return the txid, once in the node's
        mempool.

        ``selection="all"`` spends every coin of the wallet; ``subtract_fee`` takes the fee out
        of the first output instead of adding change for it. The default rate is 10 sat/vB:
        bcoin 1.0.2 underestimates the size of P2SH-wrapped segwit inputs, and at 1 sat/vB its
        node then refuses its own wallet's transaction ("insufficient priority") while the wallet
        keeps it as pending.

        Raises:
            DevChainError: the node did not accept the transaction (with its log's last error).
        """
        body: dict[str, Any] = {
            "outputs": [{"address": a, "value": int(v)} for a, v in outputs]
            + [{"script": s.hex(), "value": int(v)} for s, v in scripts],
            "rate": rate,
        }
        if selection:
            body["selection"] = selection
        if subtract_fee:
            body["subtractFee"] = True
        txid = str(self._wallet("POST", f"wallet/{wallet}/send", body)["hash"])
        deadline = time.monotonic() + 5.0
        while txid not in self.rpc("getrawmempool"):
            if time.monotonic() > deadline:
                errors = [ln for ln in (self._log() if self._log else "").splitlines()
                          if "[error]" in ln and txid in ln]
                raise DevChainError(
                    f"the node refused transaction {txid} from wallet {wallet}"
                    + (f": {errors[-1]}" if errors else "")
                )
            time.sleep(0.02)
        return txid

    # -- waiting for the wallet ------------------------------------------------------------------
    def wait_wallet_block(
        self, height: int, wallet: str = "primary", timeout: float = 30.0
    ) -> None:
        """Wait until ``wallet`` has processed block ``height`` (it must hold a transaction of it,
        e.g. its coinbase). The wallet lags the node by about a second."""
        self._wait(
            lambda: self._has_wallet_block(wallet, height),
            timeout, f"wallet {wallet} to see block {height}",
        )

    def _has_wallet_block(self, wallet: str, height: int) -> bool:
        try:
            self._wallet("GET", f"wallet/{wallet}/block/{height}")
        except DevChainError:
            return False
        return True

    def wait_confirmed(self, wallet: str, txids: Sequence[str], timeout: float = 30.0) -> None:
        """Wait until ``wallet`` sees every one of ``txids`` in a block."""
        def done() -> bool:
            return all((self.wallet_tx(wallet, t) or {}).get("height", -1) >= 0 for t in txids)
        self._wait(done, timeout, f"wallet {wallet} to see {len(txids)} transaction(s) confirmed")

    def wait_balance(self, wallet: str, confirmed: int, timeout: float = 30.0) -> dict[str, int]:
        """Wait until ``wallet``'s confirmed balance is at least ``confirmed`` sat; return it."""
        self._wait(lambda: self.balance(wallet)["confirmed"] >= confirmed, timeout,
                   f"wallet {wallet} to hold {confirmed} sat confirmed")
        return self.balance(wallet)

    @staticmethod
    def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise DevChainError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(0.05)

    # -- scenarios -------------------------------------------------------------------------------
    def consolidate(
        self,
        n_inputs: int,
        value: int,
        *,
        wallet: str,
        to_address: str,
        source: str = "primary",
        witness: bool = False,
    ) -> Consolidation:
        """Make a transaction with ``n_inputs`` inputs from ``n_inputs`` distinct addresses.

        Creates ``wallet`` (if needed), pays ``value`` sat from ``source`` to each of
        ``n_inputs`` fresh addresses of it in one transaction with that many outputs, mines it,
        then spends every coin of ``wallet`` in one transaction to ``to_address`` (the fee
        taken out of that output) and leaves it in the mempool (mine to confirm it).
        """
        with contextlib.suppress(DevChainError):  # it exists already
            self.create_wallet(wallet, witness=witness)
        addresses = tuple(self.new_address(wallet) for _ in range(n_inputs))
        funding = self.send([(a, value) for a in addresses], wallet=source)
        self.mine(1)
        self.wait_confirmed(wallet, [funding])
        spend = self.send(
            [(to_address, value * n_inputs)], wallet=wallet, selection="all", subtract_fee=True
        )
        return Consolidation(wallet, addresses, funding, spend, to_address)
