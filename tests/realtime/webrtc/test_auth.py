"""Who may connect: loopback is open, anything else needs a token; tokens compared in constant time."""

from __future__ import annotations

import pytest

from realtime.errors import UserError
from realtime.webrtc.auth import TokenGuard, check_bind, is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_beyond_this_machine_needs_a_token() -> None:
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "long-enough-secret")
    with pytest.raises(UserError, match="listening on 0.0.0.0 lets other machines in: give --token"):
        check_bind("0.0.0.0", None)
    with pytest.raises(UserError, match="too short"):
        check_bind("127.0.0.1", "short")
    with pytest.raises(UserError, match="empty"):
        check_bind("127.0.0.1", "   ")


def test_token_guard() -> None:
    open_guard = TokenGuard(None)
    assert not open_guard.required and open_guard.allows(None)
    guard = TokenGuard("s3cret-token")
    assert guard.required
    assert guard.allows("Bearer s3cret-token") and guard.allows("bearer s3cret-token ")
    for header in (
        None,
        "",
        "Bearer",
        "Bearer s3cret-toke",
        "Bearer s3cret-token2",
        "Basic s3cret-token",
        "s3cret-token",
        "Bearer  S3CRET-TOKEN",
        "Bearer s3cret-tokén",
    ):
        assert not guard.allows(header), header
