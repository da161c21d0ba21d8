"""WebRTC ways in: a browser page and WHIP ingest, analysed by the same pipeline as every other source.

Frames received over WebRTC become a live :class:`~realtime.sources.FrameSource`
(:mod:`.track`), events go back over an RTCDataChannel through a :class:`~realtime.sinks.Sink`
(:mod:`.channel`), and the loop in between is :class:`realtime.pipeline.Pipeline`, one per peer,
on a thread of its own. The HTTP side is an aiohttp app (:mod:`.server`) with the page's signalling
and WHIP (RFC 9725, :mod:`.whip`); :mod:`.source` reuses it as ``open_source("whip")`` for the
``monitor`` and ``vcam`` verbs.

Nothing here is imported by the rest of ``realtime`` until a WebRTC verb or source is asked for:
aiohttp and aiortc are optional (``pip install callshield[live]``). Nothing here imports Qt.
"""
