"""Settings shared by every layer: the database path and credential redaction."""

from __future__ import annotations

import pytest

from exposure.config import db_path, redact_url


def test_db_path_prefers_the_option_then_the_environment_then_the_default(monkeypatch):
    monkeypatch.setenv("EXPOSURE_DB", "/tmp/from-env.duckdb")
    assert str(db_path("x.duckdb")) == "x.duckdb"
    assert str(db_path(None)) == "/tmp/from-env.duckdb"
    monkeypatch.delenv("EXPOSURE_DB")
    assert str(db_path(None)) == "exposure.duckdb"


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://user:hunter2@node.example/rpc", "hunter2"),
        (
            "https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161",
            "9aa3d95b3bc440fa88ea12eaa4456161",
        ),
        ("https://eth-mainnet.g.alchemy.com/v2/Xy-Z_abcdefghijklmnop", "Xy-Z_abcdefghijklmnop"),
        ("https://rpc.example/?apikey=topsecretvalue", "topsecretvalue"),
        ("http://127.0.0.1:8545/?token=s3", "s3"),
    ],
)
def test_redacted_urls_never_contain_the_secret(url, secret):
    assert secret not in redact_url(url)


def test_redaction_keeps_host_and_port_for_the_message():
    assert redact_url("http://u:p@127.0.0.1:8545/") == "http://127.0.0.1:8545/"
