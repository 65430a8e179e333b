"""Configuration: flags beat PRIOMEM_* variables beat defaults; tokens; the loopback rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from priomem import InvalidInputError
from priomem.mcp_server import Grant, load_tokens, parse_config
from priomem.serving import is_loopback

TOKEN_A = "a" * 32
TOKEN_B = "b" * 32


def test_defaults_without_flags_or_environment() -> None:
    config = parse_config([], {})
    assert config.transport == "stdio"
    assert (config.host, config.port) == ("127.0.0.1", 8765)
    assert config.namespace == "default"
    assert config.settings.path is None and config.settings.url is None
    assert config.share is True and config.lock_namespace is False
    assert config.tokens == {}
    assert config.max_k == 100 and config.max_request_bytes == 1024 * 1024
    assert config.log_level == "WARNING"


def test_environment_is_read() -> None:
    env = {
        "PRIOMEM_PATH": "/srv/memory",
        "PRIOMEM_NAMESPACE": "team",
        "PRIOMEM_LOG_LEVEL": "debug",
        "PRIOMEM_EMBEDDER": "hash",
        "PRIOMEM_MAX_CONTENT_CHARS": "500",
        "PRIOMEM_MCP_TRANSPORT": "http",
        "PRIOMEM_MCP_HOST": "::1",
        "PRIOMEM_MCP_PORT": "9001",
        "PRIOMEM_MCP_LOCK_NAMESPACE": "yes",
        "PRIOMEM_MCP_MAX_K": "7",
        "PRIOMEM_MCP_MAX_REQUEST_BYTES": "2048",
        "PRIOMEM_MCP_SHARE": "off",
        "PRIOMEM_MCP_ALLOWED_HOSTS": "memory.internal, memory.internal:8443",
        "PRIOMEM_MCP_TOKENS": f"{TOKEN_A}=alice,shared",
    }
    config = parse_config([], env)
    assert config.settings.path == Path("/srv/memory")
    assert config.namespace == "team" and config.settings.embedder == "hash"
    assert config.settings.max_content_chars == 500 and config.log_level == "DEBUG"
    assert (config.transport, config.host, config.port) == ("http", "::1", 9001)
    assert config.lock_namespace is True and config.share is False
    assert (config.max_k, config.max_request_bytes) == (7, 2048)
    assert config.allowed_hosts == ("memory.internal", "memory.internal:8443")
    assert list(config.tokens.values()) == [
        Grant(namespace="alice", allowed=frozenset({"alice", "shared"}), label="token #1 (alice)")
    ]


def test_flags_win_over_environment() -> None:
    env = {
        "PRIOMEM_PATH": "/from/env",
        "PRIOMEM_NAMESPACE": "env-ns",
        "PRIOMEM_LOG_LEVEL": "ERROR",
        "PRIOMEM_MAX_CONTENT_CHARS": "500",
        "PRIOMEM_MCP_TRANSPORT": "stdio",
        "PRIOMEM_MCP_PORT": "9001",
        "PRIOMEM_MCP_MAX_K": "7",
        "PRIOMEM_MCP_SHARE": "false",
        "PRIOMEM_MCP_LOCK_NAMESPACE": "true",
        "PRIOMEM_MCP_ALLOWED_HOSTS": "from-env",
    }
    argv = [
        "--path", "/from/flag", "--namespace", "flag-ns", "--log-level", "info",
        "--max-content-chars", "900", "--transport", "http", "--port", "9002", "--max-k", "20",
        "--share", "--no-lock-namespace", "--allowed-host", "from-flag",
    ]  # fmt: skip
    config = parse_config(argv, env)
    assert config.settings.path == Path("/from/flag")
    assert config.namespace == "flag-ns" and config.log_level == "INFO"
    assert config.settings.max_content_chars == 900
    assert (config.transport, config.port, config.max_k) == ("http", 9002, 20)
    assert config.share is True and config.lock_namespace is False
    assert config.allowed_hosts == ("from-flag",)


def test_a_path_flag_beats_a_url_variable_and_the_reverse() -> None:
    by_path = parse_config(["--path", "/p"], {"PRIOMEM_URL": "http://chroma:8000"})
    assert by_path.settings.path == Path("/p") and by_path.settings.url is None
    by_url = parse_config(["--url", "http://chroma:8000"], {"PRIOMEM_PATH": "/p"})
    assert by_url.settings.url == "http://chroma:8000" and by_url.settings.path is None
    from_env = parse_config([], {"PRIOMEM_URL": "http://chroma:8000"})
    assert from_env.settings.url == "http://chroma:8000"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PRIOMEM_MCP_PORT": "eighty"}, "PRIOMEM_MCP_PORT"),
        ({"PRIOMEM_MCP_PORT": "70000"}, "PRIOMEM_MCP_PORT"),
        ({"PRIOMEM_MCP_MAX_K": "0"}, "PRIOMEM_MCP_MAX_K"),
        ({"PRIOMEM_MCP_SHARE": "maybe"}, "PRIOMEM_MCP_SHARE"),
        ({"PRIOMEM_MCP_TRANSPORT": "sse"}, "PRIOMEM_MCP_TRANSPORT"),
        ({"PRIOMEM_MCP_TOKENS": "short=alice"}, "at least 16 characters"),
    ],
)
def test_bad_values_name_their_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(InvalidInputError, match=named):
        parse_config([], env)


def test_a_bad_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_config(["--transport", "carrier-pigeon"], {})
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_tokens_file_and_variable(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# comment\n{TOKEN_A} = alice, shared  # Alice's laptop\n\n{TOKEN_B}=ops,*\n")
    grants = load_tokens(file=tokens, inline="c" * 20 + "=bob")
    by_default = {g.namespace: g for g in grants.values()}
    assert by_default["alice"].allowed == frozenset({"alice", "shared"})
    assert by_default["ops"].allowed is None  # '*': any namespace
    assert by_default["bob"].allowed == frozenset({"bob"})
    assert TOKEN_A not in grants  # only digests are kept
    config = parse_config(["--tokens-file", str(tokens)], {})
    assert len(config.tokens) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{TOKEN_A}\n", "expected 'TOKEN = namespace"),
        (f"{TOKEN_A}=alice\n{TOKEN_A}=bob\n", "listed twice"),
        ("tiny=alice\n", "at least 16 characters"),
    ],
)
def test_bad_token_entries_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(text)
    with pytest.raises(InvalidInputError, match=message) as raised:
        load_tokens(file=tokens)
    assert str(tokens) in str(raised.value)


def test_missing_tokens_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot read"):
        parse_config(["--tokens-file", str(tmp_path / "nope")], {})


def test_tokens_guard_http_only() -> None:
    env = {"PRIOMEM_MCP_TOKENS": f"{TOKEN_A}=alice"}
    assert parse_config(["--transport", "http"], env).require_tokens is True
    # A stdio server belongs to the client that spawned it; a token variable left in the
    # environment must not lock that client out.
    assert parse_config([], env).require_tokens is False


def test_http_beyond_loopback_needs_tokens() -> None:
    parse_config(["--transport", "http", "--host", "127.0.0.1"], {}).check_bind()
    parse_config(["--transport", "http", "--host", "localhost"], {}).check_bind()
    with pytest.raises(
        InvalidInputError, match=re.escape("refusing to serve on '0.0.0.0' without bearer tokens")
    ):
        parse_config(["--transport", "http", "--host", "0.0.0.0"], {}).check_bind()
    with_tokens = parse_config(
        ["--transport", "http", "--host", "0.0.0.0"], {"PRIOMEM_MCP_TOKENS": f"{TOKEN_A}=a"}
    )
    with_tokens.check_bind()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.5", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.10", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
