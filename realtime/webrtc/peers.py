"""The server's peers: one :class:`Peer` per RTCPeerConnection, counted and capped by a registry.

A peer owns everything that must end with it (its asyncio tasks, its frame source, its analysis
thread, the pages watching it) and :meth:`Peer.close` ends all of it, once, whatever asked first:
a WHIP DELETE, the page saying goodbye or its data channel closing, ICE failure, the video
ending, or the server shutting down. The registry is only touched on the event loop, so checking
the cap and adding a peer cannot race.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal

from realtime.webrtc.channel import dumps

log = logging.getLogger(__name__)

PeerKind = Literal["page", "whip", "watch"]


class Peer:
    """One remote peer: ``page`` (the browser page sending video), ``whip`` (a WHIP publisher) or
    ``watch`` (a page watching a WHIP session's events, no video)."""

    def __init__(self, peer_id: str, kind: PeerKind, pc: Any) -> None:
        self.id = peer_id
        self.kind = kind
        self.pc = pc
        self.created = time.monotonic()
        self.channel: Any = None  # the peer's own data channel, once the remote opens it
        self.watchers: set[Any] = set()  # data channels of pages watching this (WHIP) peer
        self.watching: Peer | None = None
        self.source: Any = None  # the TrackFrameSource its video feeds, once it has one
        self.tasks: set[asyncio.Task[Any]] = set()
        self.cleanups: list[Callable[[], Awaitable[None]]] = []  # run in reverse order
        self.on_closed: list[Callable[[], None]] = []  # run last, after the connection is closed
        self.closed = asyncio.Event()
        self.reason = ""
        self._closing: asyncio.Task[None] | None = None

    def channels(self) -> list[Any]:
        """Where this peer's events go: its own channel and its watchers'."""
        own = [self.channel] if self.channel is not None else []
        return own + list(self.watchers)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a task that :meth:`close` cancels."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{name}-{self.id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def close_soon(self, reason: str) -> None:
        """Start closing from a callback that cannot await (aiortc events, other threads' hops)."""
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._close(reason))

    async def close(self, reason: str) -> None:
        """End the peer and everything it owns; later calls wait for the first one to finish."""
        self.close_soon(reason)
        assert self._closing is not None
        await asyncio.shield(self._closing)

    async def _close(self, reason: str) -> None:
        self.reason = reason
        log.info("peer %s (%s) closing: %s", self.id, self.kind, reason)
        for watcher in list(self.watchers):
            with contextlib.suppress(Exception):
                if watcher.readyState == "open":
                    watcher.send(dumps({"type": "end", "peer": self.id, "reason": reason}))
        current = asyncio.current_task()
        for task in list(self.tasks):
            if task is not current:
                task.cancel()
        for cleanup in reversed(self.cleanups):
            try:
                await cleanup()
            except Exception:  # one failing cleanup must not keep the rest alive
                log.exception("peer %s: cleanup failed", self.id)
        with contextlib.suppress(Exception):
            await self.pc.close()
        pending = [task for task in self.tasks if task is not current]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for callback in self.on_closed:
            callback()
        self.closed.set()


class PeersFull(Exception):
    """The registry is at its cap."""


class PeerRegistry:
    """Live peers by id, at most ``max_peers`` at a time (every kind counts)."""

    def __init__(self, max_peers: int) -> None:
        if max_peers < 1:
            raise ValueError("max_peers must be at least 1")
        self.max_peers = max_peers
        self._peers: dict[str, Peer] = {}

    def __len__(self) -> int:
        return len(self._peers)

    def __iter__(self) -> Any:
        return iter(list(self._peers.values()))

    def get(self, peer_id: str) -> Peer | None:
        return self._peers.get(peer_id)

    def add(self, kind: PeerKind, pc_factory: Callable[[], Any]) -> Peer:
        """Register a new peer with a fresh id, or raise :class:`PeersFull`."""
        if len(self._peers) >= self.max_peers:
            raise PeersFull(f"{len(self._peers)} peers already connected (the limit is {self.max_peers})")
        peer_id = secrets.token_urlsafe(12)
        peer = Peer(peer_id, kind, pc_factory())
        self._peers[peer_id] = peer
        peer.on_closed.append(lambda: self._forget(peer_id))
        return peer

    def _forget(self, peer_id: str) -> None:
        self._peers.pop(peer_id, None)

    async def close_all(self, reason: str) -> None:
        peers = list(self._peers.values())
        if peers:
            await asyncio.gather(*(peer.close(reason) for peer in peers), return_exceptions=True)
