"""Who may use the server: loopback binds are open, anything else needs a bearer token.

The page's signalling and WHIP both carry ``Authorization: Bearer <token>`` (WHIP clients such as
OBS have a field for it). Tokens are compared with :func:`hmac.compare_digest`, so the time a
refusal takes does not tell an attacker how many leading characters were right. The static page
itself holds no data and is served without a token; the page reads the token from its URL fragment
(``#token=...``), which browsers never send to the server or write to its logs.
"""

from __future__ import annotations

import hmac
import ipaddress

from realtime.errors import UserError

# Environment variable read when no --token is given (a token on the command line shows in `ps`).
TOKEN_ENV = "CALLSHIELD_TOKEN"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses only this machine can reach (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, flag: str = "--token") -> None:
    """Refuse to listen beyond this machine without a token (one line naming the fix)."""
    if token is not None and not token.strip():
        raise UserError(f"{flag} is empty; give a secret of at least 8 characters")
    if token is not None and len(token) < 8:
        raise UserError(f"{flag} is too short; give a secret of at least 8 characters")
    if not is_loopback(host) and token is None:
        raise UserError(
            f"listening on {host} lets other machines in: give {flag} SECRET (or set {TOKEN_ENV}); "
            "clients send it as 'Authorization: Bearer SECRET'"
        )


class TokenGuard:
    """Checks ``Authorization`` headers against the configured token (None: everyone is let in)."""

    def __init__(self, token: str | None) -> None:
        self._expected = None if token is None else token.encode("utf-8")

    @property
    def required(self) -> bool:
        return self._expected is not None

    def allows(self, authorization: str | None) -> bool:
        """``Bearer <token>`` (scheme in any case, RFC 6750) with the right token."""
        if self._expected is None:
            return True
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        given = credentials.strip().encode("utf-8", "replace")
        # compare_digest first, always: the scheme check must not short-cut the timing either.
        same = hmac.compare_digest(given, self._expected)
        return same and scheme.lower() == "bearer"
