"""The JSON-RPC client: what is retried, what fails at once, and what is handed to the caller."""

from __future__ import annotations

import json

import pytest

from exposure.errors import RpcError
from exposure.indexers.rpc import CallError, RpcClient
from tests.proxy import ProxyRules, RpcProxy


def flaky(*answers):
    """An intercept that answers with ``answers`` in turn, then lets requests through."""
    queue = list(answers)
    seen = []

    def intercept(request):
        seen.append(request)
        if queue:
            answer = queue.pop(0)
            return answer(request) if callable(answer) else answer
        return None

    intercept.seen = seen
    return intercept


def client(url, **kw):
    return RpcClient(url, retries=3, backoff=0.01, **kw)


def test_http_429_with_retry_after_is_retried(anvil):
    rule = flaky((429, b"slow down"), (503, b"busy"))
    with RpcProxy(anvil.url, ProxyRules(intercept=rule)) as proxy:
        c = client(proxy.url)
        assert int(c.call("eth_chainId"), 16) == 31337
    assert len(rule.seen) == 3 and c.retries_done == 2


def test_truncated_json_and_wrong_batch_ids_are_retried(anvil):
    def wrong_ids(request):
        return 200, json.dumps(
            [{"jsonrpc": "2.0", "id": 999, "result": "0x1"} for _ in request]
        ).encode()

    rule = flaky((200, b'{"jsonrpc": "2.0", "id": 1, "res'), wrong_ids)
    with RpcProxy(anvil.url, ProxyRules(intercept=rule)) as proxy:
        answers = client(proxy.url).batch([("eth_chainId", []), ("eth_blockNumber", [])])
    assert int(answers[0], 16) == 31337 and isinstance(answers[1], str)


def test_persistent_failure_names_the_method_and_context(anvil):
    rule = flaky(*[(502, b"bad gateway")] * 10)
    with RpcProxy(anvil.url, ProxyRules(intercept=rule)) as proxy:
        with pytest.raises(
            RpcError, match=r"eth_blockNumber for blocks 5-9 .* after 4 attempts: HTTP 502"
        ):
            client(proxy.url).call("eth_blockNumber", context="blocks 5-9")


def test_bad_credentials_fail_at_once(anvil):
    rule = flaky(*[(401, b"unauthorized")] * 10)
    with RpcProxy(anvil.url, ProxyRules(intercept=rule)) as proxy:
        with pytest.raises(RpcError, match=r"HTTP 401 \(check the URL.s credentials"):
            client(proxy.url).call("eth_chainId")
    assert len(rule.seen) == 1


def test_a_json_rpc_error_object_is_returned_with_its_code(anvil):
    with RpcProxy(anvil.url, ProxyRules(hidden_methods={"trace_block"})) as proxy:
        c = client(proxy.url)
        answer = c.try_call("trace_block", ["0x0"])
        assert isinstance(answer, CallError) and answer.unsupported and answer.code == -32601
        with pytest.raises(RpcError, match="JSON-RPC error -32601"):
            c.call("trace_block", ["0x0"])


def test_a_node_that_rejects_big_batches_gets_smaller_ones(anvil):
    def too_big(request):
        if isinstance(request, list) and len(request) > 4:
            return 413, b"payload too large"
        return None

    with RpcProxy(anvil.url, ProxyRules(intercept=too_big)) as proxy:
        c = client(proxy.url, max_batch=50)
        answers = c.batch([("eth_getBlockByNumber", [hex(0), False])] * 20)
    assert len(answers) == 20 and all(a["number"] == "0x0" for a in answers)
    assert c.max_batch <= 4
