"""Offers are checked before aiortc sees them: every bad one is an OfferError with a 4xx status."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime.webrtc.offers import (
    MAX_OFFER_BYTES,
    OfferError,
    check_content_type,
    check_sdp_offer,
    decode_text,
    parse_page_offer,
)
from tests.realtime.webrtc.sdp_samples import BREAKERS, real_offers


@pytest.fixture(scope="module")
def offers() -> tuple[str, str]:
    return real_offers()


def test_real_offers_pass_and_come_back_with_crlf_lines(offers: tuple[str, str]) -> None:
    video, data = offers
    checked = check_sdp_offer(video.replace("\r\n", "\n"), need_video=True)
    assert checked.startswith("v=0\r\n") and "\r\nm=video " in checked and checked.endswith("\r\n")
    assert check_sdp_offer(data, need_video=False).count("m=application") == 1
    with pytest.raises(OfferError, match="no video"):
        check_sdp_offer(data, need_video=True)


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda b: b.__name__)
def test_each_way_of_breaking_an_offer_is_a_400_naming_the_problem(offers, breaker) -> None:
    rng = random.Random(7)
    for _ in range(10):
        with pytest.raises(OfferError) as caught:
            check_sdp_offer(breaker(offers[0], rng), need_video=True)
        assert caught.value.status == 400
        assert "\n" not in caught.value.message and len(caught.value.message) < 200


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=3000), st.binary(max_size=3000).map(lambda b: b.decode("latin-1"))))
def test_arbitrary_text_is_refused_with_an_offer_error_and_nothing_else(text: str) -> None:
    with pytest.raises(OfferError) as caught:
        check_sdp_offer(text, need_video=False)
    assert 400 <= caught.value.status < 500


@settings(max_examples=120, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
        max_leaves=20,
    )
)
def test_arbitrary_json_bodies_are_refused_with_an_offer_error(value: object) -> None:
    with pytest.raises(OfferError) as caught:
        parse_page_offer(json.dumps(value).encode())
    assert caught.value.status == 400


def test_page_offer_json_shapes(offers: tuple[str, str]) -> None:
    video, data = offers
    assert parse_page_offer(json.dumps({"type": "offer", "sdp": video}).encode()).watch is None
    watch = parse_page_offer(json.dumps({"type": "offer", "sdp": data, "watch": "abc_-9"}).encode())
    assert watch.watch == "abc_-9"
    for body, why in [
        (b"{", "not valid JSON"),
        (b"[" * 50_000, "not valid JSON"),  # nesting deeper than the recursion limit
        (b'["offer"]', "JSON object"),
        (json.dumps({"type": "answer", "sdp": video}).encode(), "'type'"),
        (json.dumps({"type": "offer", "sdp": 5}).encode(), "'sdp'"),
        (json.dumps({"type": "offer", "sdp": data, "watch": "../etc"}).encode(), "'watch'"),
        (json.dumps({"type": "offer", "sdp": data}).encode(), "no video"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"   ", "empty"),
    ]:
        with pytest.raises(OfferError, match=why):
            parse_page_offer(body)


def test_size_limit_and_content_types() -> None:
    with pytest.raises(OfferError) as caught:
        decode_text(b"v" * (MAX_OFFER_BYTES + 1), "the offer")
    assert caught.value.status == 413
    check_content_type("application/sdp; charset=utf-8", "application/sdp")
    check_content_type("Application/SDP", "application/sdp")
    for wrong in (None, "", "text/plain", "application/json", "application/sdp-x"):
        with pytest.raises(OfferError) as caught:
            check_content_type(wrong, "application/sdp")
        assert caught.value.status == 415
