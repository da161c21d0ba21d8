"""WHIP ingest (RFC 9725, what OBS Studio 30+ speaks): publish a stream with one HTTP POST.

* ``POST /whip`` with an SDP offer (``Content-Type: application/sdp``, ``Authorization: Bearer``
  when the server has a token) -> ``201 Created``, the SDP answer (``application/sdp``) and
  ``Location: /whip/<id>``, the session's resource. The answer carries every ICE candidate, so
  the client needs no trickle ICE.
* ``DELETE /whip/<id>`` ends the session (``200``); an unknown id is ``404``.
* ``PATCH /whip/<id>`` (trickle ICE, ICE restart) is not supported: ``405``, as the RFC asks of
  a server without them. ``OPTIONS /whip`` says what the endpoint accepts.

Everything else (token, content type, size, malformed SDP, the peer cap's ``503``) is checked by
the same code as the page's signalling, in :mod:`.server` and :mod:`.offers`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from realtime.webrtc.offers import OfferError, check_content_type, check_sdp_offer, decode_text

if TYPE_CHECKING:
    from realtime.webrtc.server import SignallingServer

ENDPOINT = "/whip"
DELETED = "the publisher sent DELETE"  # a peer's close reason when its session was deleted


def add_whip_routes(app: web.Application, server: SignallingServer) -> None:
    """The WHIP endpoint and session resources, answered by ``server``'s peers."""

    async def publish(request: web.Request) -> web.Response:
        server.authorize(request)
        check_content_type(request.headers.get("Content-Type"), "application/sdp")
        sdp = check_sdp_offer(decode_text(await server.read_body(request), "the offer"), need_video=True)
        peer = await server.answer("whip", sdp)
        return web.Response(
            status=201,
            text=peer.pc.localDescription.sdp,
            content_type="application/sdp",
            headers={"Location": f"{ENDPOINT}/{peer.id}", "Cache-Control": "no-store"},
        )

    async def end(request: web.Request) -> web.Response:
        server.authorize(request)
        peer = server.peers.get(request.match_info["session"])
        if peer is None or peer.kind != "whip":
            raise OfferError(404, "no such WHIP session (already ended?)")
        await peer.close(DELETED)
        return web.Response(status=200, text="session ended\n")

    async def patch(request: web.Request) -> web.Response:
        server.authorize(request)
        raise web.HTTPMethodNotAllowed(
            "PATCH", ["DELETE"], text="trickle ICE and ICE restarts are not supported\n"
        )

    async def options(request: web.Request) -> web.Response:
        return web.Response(status=204, headers={"Allow": "OPTIONS, POST", "Accept-Post": "application/sdp"})

    app.router.add_post(ENDPOINT, publish)
    app.router.add_route("OPTIONS", ENDPOINT, options)
    app.router.add_delete(ENDPOINT + "/{session}", end)
    app.router.add_patch(ENDPOINT + "/{session}", patch)
