"""Reading and checking what a client offers, before any peer connection is made for it.

Every way a request can be wrong ends here as an :class:`OfferError` with an HTTP status and one
short line: wrong content type (415), a body over the size limit (413), bytes that are not UTF-8
text, JSON that is not an object with an SDP offer, SDP that is not a WebRTC offer (400). The
checks are cheap and run before aiortc sees the text, so junk never allocates ports or threads;
what passes them is parsed by aiortc's own SDP parser, whose failures are turned into 400s too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# Browser offers are 3-10 KB (OBS: ~2 KB); 64 KiB leaves room for many codecs and candidates.
MAX_OFFER_BYTES = 64 * 1024
# An SDP line: one lower-case letter, '=', a value without control characters.
_SDP_LINE = re.compile(r"[a-z]=[^\x00-\x08\x0a-\x1f\x7f]*")


class OfferError(Exception):
    """A request that cannot be served: ``status`` (4xx) and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PageOffer:
    """The page's signalling body: an SDP offer and, for a watcher, the WHIP session it watches."""

    sdp: str
    watch: str | None = None


def media_type(content_type: str | None) -> str:
    """``application/sdp; charset=utf-8`` -> ``application/sdp``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def check_content_type(content_type: str | None, expected: str) -> None:
    got = media_type(content_type)
    if got != expected:
        raise OfferError(415, f"expected Content-Type {expected}, got {got or 'none'}")


def decode_text(body: bytes, what: str) -> str:
    if len(body) > MAX_OFFER_BYTES:
        raise OfferError(413, f"{what} is larger than {MAX_OFFER_BYTES} bytes")
    if not body.strip():
        raise OfferError(400, f"{what} is empty")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise OfferError(400, f"{what} is not UTF-8 text") from None


def check_sdp_offer(text: str, need_video: bool) -> str:
    """The offer's SDP, normalised to CRLF lines, or :class:`OfferError` saying what is wrong.

    A WebRTC offer has ``v=0`` first, a DTLS fingerprint, ICE credentials and at least one media
    section; ``need_video``: one of them must be a video section with a non-zero port (a sender).
    """
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line != ""]
    if not lines or lines[0].strip() != "v=0":
        raise OfferError(400, "malformed SDP offer: it must start with v=0")
    bad = next((i for i, line in enumerate(lines) if not _SDP_LINE.fullmatch(line)), None)
    if bad is not None:
        raise OfferError(400, f"malformed SDP offer: line {bad + 1} is not 'x=value'")
    media = [line for line in lines if line.startswith("m=")]
    if not media:
        raise OfferError(400, "malformed SDP offer: no media section (m=)")
    for attribute in ("fingerprint", "ice-ufrag", "ice-pwd"):
        if not any(line.startswith(f"a={attribute}:") for line in lines):
            raise OfferError(400, f"malformed SDP offer: no a={attribute} (not a WebRTC offer)")
    if need_video and not any(_sends_video(line) for line in media):
        raise OfferError(400, "the offer has no video to analyse (no m=video section)")
    sdp = "\r\n".join(lines) + "\r\n"
    _parse_with_aiortc(sdp)
    return sdp


def _sends_video(m_line: str) -> bool:
    parts = m_line[2:].split()
    return len(parts) >= 4 and parts[0] == "video" and parts[1].isdigit() and int(parts[1]) != 0


def _parse_with_aiortc(sdp: str) -> None:
    from aiortc.sdp import SessionDescription

    try:
        SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises ValueError, IndexError, KeyError...
        raise OfferError(400, f"malformed SDP offer ({reason_of(exc)})") from None


def reason_of(exc: BaseException) -> str:
    """One short line for an exception raised while reading or answering an offer."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def parse_page_offer(body: bytes) -> PageOffer:
    """The page's JSON: ``{"type": "offer", "sdp": "...", "watch": "<session id>"?}``."""
    text = decode_text(body, "the offer")
    try:
        data: Any = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise OfferError(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise OfferError(400, "the body must be a JSON object with 'type' and 'sdp'")
    if data.get("type") != "offer":
        raise OfferError(400, "'type' must be \"offer\"")
    sdp, watch = data.get("sdp"), data.get("watch")
    if not isinstance(sdp, str):
        raise OfferError(400, "'sdp' must be a string")
    if watch is not None and (not isinstance(watch, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", watch)):
        raise OfferError(400, "'watch' must be a session id")
    return PageOffer(sdp=check_sdp_offer(sdp, need_video=watch is None), watch=watch)
