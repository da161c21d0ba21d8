"""The shared state style: every state and reason has a colour and words, and the page JSON agrees."""

from __future__ import annotations

import json

from realtime.events import REASONS, STATES
from realtime.style import STATE_RGB, palette_json, state_bgr, state_hex, why_uncertain


def test_every_state_has_a_distinct_colour() -> None:
    assert len({STATE_RGB[s] for s in STATES}) == len(STATES)
    assert state_hex("fake") == "#dc2626"
    assert state_bgr("real") == STATE_RGB["real"][::-1]
    assert state_hex("no such state") == state_hex("uncertain")


def test_why_uncertain_prefers_quality_flags_then_reason() -> None:
    assert (
        why_uncertain("uncertain", "low_quality", ["too_dark", "too_small"])
        == "face too dark, face too small"
    )
    assert why_uncertain("uncertain", "warming_up", []) == "seen too briefly"
    assert why_uncertain("uncertain", None, []) is None
    assert why_uncertain("fake", "warming_up", ["too_dark"]) is None


def test_palette_json_round_trips() -> None:
    data = json.loads(json.dumps(palette_json()))
    assert set(data["states"]) == set(STATES)
    assert set(data["reasons"]) == set(REASONS)
    assert data["states"]["suspicious"]["hex"] == state_hex("suspicious")
