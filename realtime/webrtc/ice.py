"""Loopback ICE candidates, for a server and its peers on the same machine.

aioice leaves 127.0.0.1 out of the host candidates it gathers. That is right on a network, but a
server bound to loopback only talks to peers on this machine, and a machine whose only interface is
``lo`` (an offline laptop, a sandbox, a CI network namespace) would then have no candidate at all.
Chromium offers loopback candidates with ``--allow-loopback-in-peer-connection``.
"""

from __future__ import annotations

from typing import Any

LOOPBACK = "127.0.0.1"


def include_loopback_candidates() -> None:
    """Make aioice also gather 127.0.0.1 (process-wide, idempotent).

    aioice has no per-connection option for it, so its address lookup is wrapped; its other
    addresses are kept, so peers on the network still connect.
    """
    import aioice.ice

    current: Any = aioice.ice.get_host_addresses
    if getattr(current, "callshield_loopback", False):
        return

    def with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses = list(current(use_ipv4, use_ipv6))
        if use_ipv4 and LOOPBACK not in addresses:
            addresses.insert(0, LOOPBACK)
        return addresses

    with_loopback.callshield_loopback = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = with_loopback
