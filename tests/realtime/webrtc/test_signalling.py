"""The real server under bad requests: tokens, Host, the peer cap, and a seeded signalling fuzz.

Every malformed request must get a short 4xx, the server must keep serving, and nothing may be left
behind: no peer in the registry, no task on its loop, no thread.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator

import aiohttp
import pytest

from realtime.style import STATE_RGB, palette_json, state_hex
from realtime.webrtc.offers import MAX_OFFER_BYTES
from realtime.webrtc.server import PAGE_DIR
from tests.realtime.webrtc.peers_helper import count_tasks, new_threads, owned_threads, server_tasks_settle
from tests.realtime.webrtc.sdp_samples import BREAKERS, real_offers

TOKEN = "s3cret-token-16"


@pytest.fixture(scope="module")
def offers() -> tuple[str, str]:
    return real_offers()


def _request(method: str, path: str, body: bytes = b"", content_type: str | None = None, **headers: str):
    if content_type is not None:
        headers["Content-Type"] = content_type
    return method, path, body, headers


def fuzz_requests(video: str, data: str, seed: int, count: int) -> Iterator[tuple[str, str, bytes, dict]]:
    """``count`` requests, each wrong in a way that must be refused with a 4xx (seeded)."""
    rng = random.Random(seed)
    padded = video + "a=x-pad:" + "p" * (MAX_OFFER_BYTES + 10) + "\r\n"
    for i in range(count):
        kind = i % 12
        broken = rng.choice(BREAKERS)(video, rng)
        if kind in (0, 1, 2):  # broken SDP to WHIP
            yield _request("POST", "/whip", broken.encode("utf-8", "surrogatepass"), "application/sdp")
        elif kind == 3:  # broken SDP inside the page's JSON
            yield _request(
                "POST", "/offer", json.dumps({"type": "offer", "sdp": broken}).encode(), "application/json"
            )
        elif kind == 4:  # not JSON / the wrong JSON
            body = rng.choice(
                [
                    b"{",
                    b"null",
                    b"[]",
                    b'{"type":"offer"}',
                    b'{"sdp":"v=0"}',
                    bytes(rng.randbytes(200)),
                    json.dumps({"type": "offer", "sdp": data, "watch": "nosuchsession"}).encode(),
                    json.dumps({"type": "offer", "sdp": video, "watch": 7}).encode(),
                ]
            )
            yield _request("POST", "/offer", body, "application/json")
        elif kind == 5:  # wrong content types, valid bodies
            path, body = rng.choice(
                [("/whip", video.encode()), ("/offer", json.dumps({"type": "offer", "sdp": video}).encode())]
            )
            yield _request(
                "POST",
                path,
                body,
                rng.choice(
                    [
                        None,
                        "text/plain",
                        "application/x-www-form-urlencoded",
                        "multipart/form-data",
                        "application/sdp-bogus",
                    ]
                ),
            )
        elif kind == 6:  # oversized, with and without a Content-Length
            yield _request("POST", "/whip", padded.encode(), "application/sdp")
        elif kind == 7:
            yield _request(
                "POST", "/offer", json.dumps({"type": "offer", "sdp": padded}).encode(), "application/json"
            )
        elif kind == 8:  # non-UTF-8 bytes
            body = video.encode()[: rng.randint(0, 200)] + b"\xff\xfe\xc3" + rng.randbytes(50)
            yield _request("POST", "/whip", body, "application/sdp")
        elif kind == 9:  # sessions that do not exist, methods that are not served
            yield rng.choice(
                [
                    _request("DELETE", f"/whip/{rng.randbytes(6).hex()}"),
                    _request("PATCH", "/whip/abc", b"a=candidate", "application/trickle-ice-sdpfrag"),
                    _request("GET", "/whip"),
                    _request("PUT", "/offer"),
                    _request("GET", "/../etc/passwd"),
                    _request("GET", "/page/../server.py"),
                ]
            )
        elif kind == 10:  # a data-channel-only offer where video is needed
            yield _request("POST", "/whip", data.encode(), "application/sdp")
        else:  # empty bodies
            yield _request(
                "POST",
                rng.choice(["/whip", "/offer"]),
                b"",
                rng.choice(["application/sdp", "application/json"]),
            )


def test_hundreds_of_malformed_requests_get_4xx_and_the_server_keeps_serving(start_server, offers) -> None:
    video, data = offers
    server = start_server()
    tasks_before = server.call(count_tasks())
    threads_before = owned_threads()
    statuses: dict[int, int] = {}

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            for method, path, body, headers in fuzz_requests(video, data, seed=16, count=360):
                async with http.request(method, server.url + path, data=body, headers=headers) as r:
                    text = await r.text()
                    assert 400 <= r.status < 500, (method, path, headers, r.status, text[:200])
                    assert len(text) < 300 and text.count("\n") <= 1, text[:300]
                    statuses[r.status] = statuses.get(r.status, 0) + 1
            # Still serving: the page, and a real WHIP offer answered then deleted.
            async with http.get(server.url + "/") as r:
                assert r.status == 200
            async with http.post(
                server.url + "/whip", data=video, headers={"Content-Type": "application/sdp"}
            ) as r:
                assert r.status == 201
                location = r.headers["Location"]
            async with http.delete(server.url + location) as r:
                assert r.status == 200

    asyncio.run(scenario())
    assert sum(statuses.values()) == 360
    assert {400, 404, 405, 413, 415} <= set(statuses)
    assert len(server.server.peers) == 0
    assert server_tasks_settle(server, tasks_before)
    assert new_threads(threads_before) == []


def test_token_is_required_and_compared_exactly(start_server, offers) -> None:
    server = start_server(token=TOKEN)
    sdp = {"Content-Type": "application/sdp"}

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            for auth in (
                None,
                "Bearer wrong-token-1234",
                f"Basic {TOKEN}",
                f"Bearer {TOKEN}x",
                TOKEN,
                "Bearer",
            ):
                headers = sdp if auth is None else {**sdp, "Authorization": auth}
                async with http.post(server.url + "/whip", data=offers[0], headers=headers) as r:
                    assert r.status == 401 and r.headers["WWW-Authenticate"] == "Bearer"
            async with http.get(server.url + "/sessions") as r:
                assert r.status == 401
            async with http.post(
                server.url + "/whip", data=offers[0], headers={**sdp, "Authorization": f"bearer {TOKEN}"}
            ) as r:
                assert r.status == 201  # RFC 6750: the scheme is case-insensitive
                location = r.headers["Location"]
            async with http.delete(server.url + location) as r:
                assert r.status == 401  # deleting needs the token too
            async with http.delete(server.url + location, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                assert r.status == 200
            async with http.get(server.url + "/palette.json") as r:  # the page itself is public
                assert (await r.json())["token_required"] is True

    asyncio.run(scenario())
    assert len(server.server.peers) == 0


def test_peer_cap_answers_503_with_retry_after(start_server, offers) -> None:
    server = start_server(max_peers=1)
    sdp = {"Content-Type": "application/sdp"}

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            async with http.post(server.url + "/whip", data=offers[0], headers=sdp) as r:
                assert r.status == 201
                first = r.headers["Location"]
            async with http.post(server.url + "/whip", data=offers[0], headers=sdp) as r:
                assert r.status == 503 and r.headers["Retry-After"]
            async with http.delete(server.url + first) as r:
                assert r.status == 200
            async with http.post(server.url + "/whip", data=offers[0], headers=sdp) as r:
                assert r.status == 201  # a freed place is taken again
                second = r.headers["Location"]
            async with http.delete(server.url + second) as r:
                assert r.status == 200

    asyncio.run(scenario())
    assert len(server.server.peers) == 0


def test_without_a_token_only_loopback_host_names_are_answered(start_server) -> None:
    server = start_server()

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            for host, status in [
                ("evil.example", 403),
                ("localhost", 200),
                ("127.0.0.1", 200),
                ("[::1]", 200),
            ]:
                async with http.get(server.url + "/", headers={"Host": f"{host}:{server.port}"}) as r:
                    assert r.status == status, host

    asyncio.run(scenario())


def test_page_files_carry_security_headers_and_the_shared_palette(start_server) -> None:
    server = start_server()

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url + "/") as r:
                assert "default-src 'self'" in r.headers["Content-Security-Policy"]
                assert r.headers["X-Content-Type-Options"] == "nosniff"
                assert '<script type="module" src="page.js">' in await r.text()
            async with http.get(server.url + "/palette.json") as r:
                palette = await r.json()
        assert {k: v for k, v in palette.items() if k != "token_required"} == palette_json()

    asyncio.run(scenario())
    # The page draws states only in the palette's colours: none of them is written into its files.
    page_text = "".join(p.read_text().lower() for p in PAGE_DIR.iterdir())
    assert not [s for s in STATE_RGB if state_hex(s) in page_text]
