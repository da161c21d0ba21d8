"""The HTTP side: an aiohttp app serving the page, its signalling and WHIP, and the peers it makes.

Routes (see README "serve"):

* ``GET /`` and the page's files, ``GET /palette.json`` (the shared state colours and words);
* ``POST /offer`` (JSON ``{"type": "offer", "sdp": ..., "watch"?: id}``): the page's signalling,
  answered with ``{"type": "answer", "sdp": ..., "peer": id}``;
* ``GET /sessions``: the WHIP sessions a page can watch;
* ``/whip`` and ``/whip/{id}``: WHIP ingest (:mod:`.whip`).

How it runs (foreground or on a thread) is :mod:`.runner`'s business.

Every peer is made by :meth:`SignallingServer.answer`, the one place where a remote SDP meets
aiortc: the registry's cap is checked first (503), aiortc's failures become 400s and close
whatever was half made, and a peer that never connects is dropped after
:data:`CONNECT_TIMEOUT_S`. What happens to a peer's video is the :class:`VideoHandler`'s business:
``serve`` analyses it (:class:`~realtime.webrtc.analysis.AnalyseEachPeer`), ``open_source("whip")``
hands it to the caller.

Signalling and media go through the same token (:mod:`.auth`). Without a token the server only
answers requests whose ``Host`` is a loopback name, so a web page cannot reach it by pointing a
DNS name at 127.0.0.1 (DNS rebinding); cross-origin scripts cannot send it JSON or SDP at all,
since it answers no CORS preflight.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from realtime.webrtc.auth import TokenGuard, is_loopback
from realtime.webrtc.channel import dumps
from realtime.webrtc.offers import (
    MAX_OFFER_BYTES,
    OfferError,
    check_content_type,
    parse_page_offer,
    reason_of,
)
from realtime.webrtc.peers import Peer, PeerKind, PeerRegistry, PeersFull

log = logging.getLogger(__name__)

PAGE_DIR = Path(__file__).parent / "page"
PAGE_FILES = {  # URL path -> (file, content type); nothing else under page/ is served
    "/": ("index.html", "text/html"),
    "/page.js": ("page.js", "text/javascript"),
    "/page.css": ("page.css", "text/css"),
    "/sender-worker.js": ("sender-worker.js", "text/javascript"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
        "worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# A peer that has not connected this long after its answer never will (the client went away).
CONNECT_TIMEOUT_S = 20.0
# Data channel messages from a page are tiny ("bye", "ping"); anything bigger is ignored.
MAX_PAGE_MESSAGE = 4096
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


@dataclass
class ServerConfig:
    """What ``callshield serve`` was asked for (the CLI checks the values before this is made)."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    max_peers: int = 4
    page: bool = True

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port if port is None else port}"


class VideoHandler(Protocol):
    """What to do with a peer's video track (called on the event loop, must not block)."""

    def on_video(self, peer: Peer, track: Any) -> None: ...


class SignallingServer:
    """The app's state (peers, token, video handler) and its routes."""

    def __init__(self, config: ServerConfig, handler: VideoHandler) -> None:
        self.config = config
        self.handler = handler
        self.guard = TokenGuard(config.token)
        self.peers = PeerRegistry(config.max_peers)
        self.answered = 0  # offers that got an answer (the verb's closing line)
        self._allowed_hosts = LOOPBACK_NAMES | {config.host.lower().strip("[]")}

    # ------------------------------------------------------------------------------ the app

    def build_app(self) -> web.Application:
        from realtime.webrtc.whip import add_whip_routes

        app = web.Application(client_max_size=MAX_OFFER_BYTES, middlewares=[self._errors, self._check_host])
        if self.config.page:
            for path in PAGE_FILES:
                app.router.add_get(path, self._page_file)
            app.router.add_get("/palette.json", self._palette)
            app.router.add_post("/offer", self._offer)
            app.router.add_get("/sessions", self._sessions)
        add_whip_routes(app, self)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.peers.close_all("the server is stopping")

    @web.middleware
    async def _errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Every refusal is a short plain-text line; nothing a client sends becomes a 500."""
        try:
            response = await handler(request)
        except OfferError as exc:
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
            if exc.status == 503:
                headers["Retry-After"] = "10"
            return web.Response(status=exc.status, text=exc.message + "\n", headers=headers)
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text=f"the body is larger than {MAX_OFFER_BYTES} bytes\n")
        if isinstance(response, web.Response) and request.path in PAGE_FILES:
            response.headers.update(SECURITY_HEADERS)
        return response

    @web.middleware
    async def _check_host(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Without a token, answer only requests addressed to this machine by a loopback name."""
        if not self.guard.required and is_loopback(self.config.host):
            try:
                name = (request.url.host or "").lower().strip("[]")
            except ValueError:  # a Host header yarl cannot parse
                name = ""
            if name not in self._allowed_hosts:
                raise OfferError(403, f"unexpected Host {request.host!r}: use {self.config.url()}")
        return await handler(request)

    def authorize(self, request: web.Request) -> None:
        if not self.guard.allows(request.headers.get("Authorization")):
            raise OfferError(401, "missing or wrong token (send 'Authorization: Bearer <token>')")

    @staticmethod
    async def read_body(request: web.Request) -> bytes:
        length = request.content_length
        if length is not None and length > MAX_OFFER_BYTES:
            raise OfferError(413, f"the body is larger than {MAX_OFFER_BYTES} bytes")
        return await request.read()

    # ------------------------------------------------------------------------------ the page

    async def _page_file(self, request: web.Request) -> web.Response:
        name, content_type = PAGE_FILES[request.path]
        return web.Response(body=(PAGE_DIR / name).read_bytes(), content_type=content_type, charset="utf-8")

    async def _palette(self, request: web.Request) -> web.Response:
        from realtime.style import palette_json

        return web.json_response(
            {**palette_json(), "token_required": self.guard.required},
            headers={"Cache-Control": "no-store"},
        )

    async def _offer(self, request: web.Request) -> web.Response:
        self.authorize(request)
        check_content_type(request.headers.get("Content-Type"), "application/json")
        offer = parse_page_offer(await self.read_body(request))
        watched: Peer | None = None
        if offer.watch is not None:
            watched = self.peers.get(offer.watch)
            if watched is None or watched.kind != "whip":
                raise OfferError(404, f"no WHIP session {offer.watch!r} to watch")
        peer = await self.answer("watch" if watched else "page", offer.sdp, watching=watched)
        return web.json_response(
            {"type": "answer", "sdp": peer.pc.localDescription.sdp, "peer": peer.id},
            headers={"Cache-Control": "no-store"},
        )

    async def _sessions(self, request: web.Request) -> web.Response:
        self.authorize(request)
        now = time.monotonic()
        sessions = [
            {
                "id": peer.id,
                "age_s": round(now - peer.created, 1),
                "state": peer.pc.connectionState,
                "recv_fps": round(peer.source.receive_fps(), 1) if peer.source is not None else 0.0,
                "watchers": len(peer.watchers),
            }
            for peer in self.peers
            if peer.kind == "whip"
        ]
        return web.json_response({"sessions": sessions}, headers={"Cache-Control": "no-store"})

    # ------------------------------------------------------------------------------ peers

    async def answer(self, kind: PeerKind, sdp: str, watching: Peer | None = None) -> Peer:
        """Make a peer for a checked offer and answer it (ICE gathered: no trickle needed)."""
        from aiortc import RTCPeerConnection, RTCSessionDescription

        try:
            peer = self.peers.add(kind, RTCPeerConnection)
        except PeersFull as exc:
            raise OfferError(503, f"busy: {exc}; try again later") from None
        try:
            self._wire(peer, watching)
            await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            self._choose_directions(peer)
            await peer.pc.setLocalDescription(await peer.pc.createAnswer())
        except Exception as exc:
            await peer.close("its offer could not be answered")
            if isinstance(exc, OfferError):
                raise
            raise OfferError(400, f"cannot answer this offer ({reason_of(exc)})") from None
        peer.spawn(self._expire_unless_connected(peer), "connect-timeout")
        self.answered += 1
        log.info("peer %s (%s) answered", peer.id, kind)
        return peer

    @staticmethod
    def _choose_directions(peer: Peer) -> None:
        """Receive the first video; every other section (audio, more video) goes inactive.

        Inactive sections start no receiver, so no decoder thread and no queue of frames that
        nobody reads (an unread aiortc track queues without bound).
        """
        video_taken = False
        for transceiver in peer.pc.getTransceivers():
            if transceiver.kind == "video" and not video_taken and peer.kind != "watch":
                transceiver.direction = "recvonly"
                video_taken = True
            else:
                transceiver.direction = "inactive"

    def _wire(self, peer: Peer, watching: Peer | None) -> None:
        pc = peer.pc
        video_started = False

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                peer.close_soon(f"connection {pc.connectionState}")

        @pc.on("track")
        def on_track(track: Any) -> None:
            nonlocal video_started
            if track.kind == "video" and peer.kind != "watch" and not video_started:
                video_started = True
                self.handler.on_video(peer, track)

        if watching is not None:
            peer.watching = watching

            def watched_ended() -> None:
                peer.close_soon("the watched session ended")

            def unwatch() -> None:
                if peer.channel is not None:
                    watching.watchers.discard(peer.channel)
                if watched_ended in watching.on_closed:
                    watching.on_closed.remove(watched_ended)

            watching.on_closed.append(watched_ended)
            peer.on_closed.append(unwatch)

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            if peer.channel is not None:
                return  # one channel per peer; extra ones get nothing
            peer.channel = channel
            if watching is not None:
                if watching.closed.is_set():
                    peer.close_soon("the watched session ended")
                watching.watchers.add(channel)

            @channel.on("message")
            def on_message(message: Any) -> None:
                self._page_message(peer, channel, message)

            @channel.on("close")
            def on_close() -> None:
                if peer.kind in ("page", "watch"):
                    peer.close_soon("the page closed its data channel")

    @staticmethod
    def _page_message(peer: Peer, channel: Any, message: Any) -> None:
        """``{"type": "bye"}`` ends the peer now; ``{"type": "ping", "t": x}`` is answered with a pong."""
        if not isinstance(message, str) or len(message) > MAX_PAGE_MESSAGE:
            return
        try:
            data = json.loads(message)
        except (json.JSONDecodeError, RecursionError):
            return
        if not isinstance(data, dict):
            return
        if data.get("type") == "bye":
            peer.close_soon("the page said goodbye")
        elif data.get("type") == "ping" and isinstance(data.get("t"), (int, float)):
            with contextlib.suppress(Exception):
                channel.send(dumps({"type": "pong", "t": data["t"]}))

    @staticmethod
    async def _expire_unless_connected(peer: Peer) -> None:
        await asyncio.sleep(CONNECT_TIMEOUT_S)
        if peer.pc.connectionState != "connected":
            peer.close_soon(f"not connected after {CONNECT_TIMEOUT_S:g} s")
