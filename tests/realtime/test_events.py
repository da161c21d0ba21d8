"""The JSON Lines event contract."""

from __future__ import annotations

import json

import numpy as np
import pytest

from realtime.events import FaceEvent


def test_event_round_trips_through_one_json_line() -> None:
    event = FaceEvent(
        t=1.23456789,
        frame=37,
        track_id=2,
        box=(np.float32(10.123), 20.0, 110.0, 140.456),
        p_fake=0.123456,
        risk=None,
        state="uncertain",
        reason="warming_up",
        quality=["too_dark"],
        scored=False,
    )
    line = event.to_json()
    assert "\n" not in line
    data = json.loads(line)
    assert data == {
        "t": 1.2346,
        "frame": 37,
        "track_id": 2,
        "box": [10.12, 20.0, 110.0, 140.46],
        "p_fake": 0.1235,
        "risk": None,
        "state": "uncertain",
        "reason": "warming_up",
        "quality": ["too_dark"],
        "scored": False,
    }
    back = FaceEvent.from_json(line)
    assert back.track_id == 2 and back.quality == ["too_dark"] and back.risk is None


@pytest.mark.parametrize(
    "broken",
    [
        {"t": 0, "frame": 0, "track_id": 1, "box": [0, 0, 1], "p_fake": None, "risk": None, "state": "real"},
        {
            "t": 0,
            "frame": 0,
            "track_id": 1,
            "box": [0, 0, 1, 1],
            "p_fake": None,
            "risk": None,
            "state": "maybe",
        },
        {"t": 0, "frame": 0, "box": [0, 0, 1, 1], "p_fake": None, "risk": None, "state": "real"},
    ],
    ids=["short_box", "unknown_state", "no_track_id"],
)
def test_malformed_events_are_rejected(broken: dict) -> None:
    with pytest.raises(ValueError):
        FaceEvent.from_dict(broken)
