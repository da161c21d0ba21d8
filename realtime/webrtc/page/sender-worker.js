// Notes when each encoded video frame leaves the page (RTCRtpScriptTransform), keyed by its RTP
// timestamp; the server echoes that timestamp with the frame's events, so the page measures
// frame sent -> event shown on one clock. Frames pass through unchanged.
onrtctransform = (event) => {
  const transformer = event.transformer;
  transformer.readable
    .pipeThrough(new TransformStream({
      transform(frame, controller) {
        const meta = frame.getMetadata ? frame.getMetadata() : {};
        const rtp = meta.rtpTimestamp ?? frame.timestamp;
        postMessage({ rtp, at: performance.timeOrigin + performance.now() });
        controller.enqueue(frame);
      },
    }))
    .pipeTo(transformer.writable);
};
