"""Real Chromium sends its (fake, file-fed) camera to the real server and shows what comes back.

The camera plays carphone upscaled to 640x480 from a .y4m made here. The test reads the page's
own state (``window.callshield``) and its DOM: frames arrived, a face track was reported, its gauge
shows a state in the palette's words and colour, latency was measured; then it closes the tab and
the server must end the peer. The page's screenshot is kept in ``test-artefacts/``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from realtime.style import STATE_RGB, STATE_WORDS
from realtime.webrtc import browser

pytestmark = pytest.mark.skipif(
    browser.missing() is not None, reason=f"no headless Chromium: {browser.missing()}"
)

TOKEN = "chromium-test-token"
ARTEFACTS = Path(os.environ.get("CALLSHIELD_ARTEFACTS", Path(__file__).parents[3] / "test-artefacts"))


@pytest.fixture(scope="module")
def y4m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return browser.sample_y4m(tmp_path_factory.mktemp("camera") / "carphone_640x480.y4m")


def _poll(driver: Any, script: str, until: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if until(value):
            return value
        time.sleep(0.25)
    raise AssertionError(f"the page did not get there in {timeout:g} s; last state: {value}")


def test_chromium_page_streams_the_camera_and_draws_face_gauges(start_server, y4m: Path) -> None:
    from selenium.webdriver.common.by import By

    server = start_server(token=TOKEN)
    driver = browser.launch(y4m)
    try:
        home = driver.current_window_handle
        driver.switch_to.new_window("tab")
        driver.get(f"{server.url}/#token={TOKEN}")
        _poll(driver, "return window.callshield && window.callshield.ready", bool, 10)
        driver.find_element(By.ID, "camera").click()
        summary = _poll(
            driver,
            "return window.callshield.summary()",
            lambda s: s["messages"] >= 45 and s["faces"] and s["latencyCount"] >= 20,
            40,
        )
        assert summary["connection"] == "connected" and summary["error"] is None
        assert summary["faces"][0]["track_id"] == 1 and summary["framesWithFaces"] >= 30
        assert summary["timing"] == "rtp" and 0 < summary["latencyP50"] < 2000
        assert summary["recvFps"] > 5 and summary["pageFps"] > 5
        assert len(server.server.peers) == 1

        gauge = driver.execute_script(  # read at once: the page updates it every frame
            "const g = document.querySelector('#faces .gauge');"
            "return {state: g.dataset.state, words: g.querySelector('.words').textContent,"
            " colour: getComputedStyle(g).borderLeftColor, fill: g.querySelector('.fill').style.width};"
        )
        assert gauge["state"] in STATE_RGB
        assert gauge["words"] == STATE_WORDS[gauge["state"]]
        assert gauge["colour"] == "rgb({}, {}, {})".format(*STATE_RGB[gauge["state"]])
        assert gauge["fill"].endswith("%")
        assert "fps at the page" in driver.find_element(By.ID, "stats").text
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(ARTEFACTS / "webrtc-page.png"))

        driver.close()  # close the tab: the server must end the peer
        driver.switch_to.window(home)
        deadline = time.monotonic() + 15
        while len(server.server.peers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(server.server.peers) == 0
    finally:
        driver.quit()


def test_chromium_page_pauses_its_camera_and_resumes_in_the_same_session(start_server, y4m: Path) -> None:
    """Pause sends no video for longer than any frame gap; the session stays and, on resume, the
    analysis goes on in a new time segment (the face tracked afresh)."""
    from selenium.webdriver.common.by import By

    server = start_server()
    driver = browser.launch(y4m)
    try:
        driver.get(f"{server.url}/")
        _poll(driver, "return window.callshield && window.callshield.ready", bool, 10)
        driver.find_element(By.ID, "camera").click()
        _poll(driver, "return window.callshield.summary()", lambda s: s["framesWithFaces"] >= 20, 40)
        (peer,) = list(server.server.peers)

        driver.find_element(By.ID, "pause").click()
        _poll(driver, "return window.callshield.summary()", lambda s: s["paused"], 5)
        assert driver.find_element(By.ID, "pause").text == "Resume"
        received = peer.source.received
        time.sleep(6.0)  # longer than the old 5 s limit, and than the 2 s that opens a segment
        assert peer.source.received - received <= 2  # nothing (or a frame in flight) was sent
        assert list(server.server.peers) == [peer]  # the session stayed open
        assert "paused" in driver.find_element(By.ID, "status").text

        driver.find_element(By.ID, "pause").click()
        summary = _poll(
            driver,
            "return window.callshield.summary()",
            lambda s: not s["paused"] and (s["segment"] or 0) >= 2 and s["faces"],
            30,
        )
        assert summary["connection"] == "connected" and summary["error"] is None
        assert driver.find_element(By.ID, "pause").text == "Pause"
        assert list(server.server.peers) == [peer]
    finally:
        driver.quit()
