// CallShield page: shares a camera, or a tab or window holding a call, with the local server over
// WebRTC, and draws what the server sends back over a data channel: a box and a gauge per face,
// in the states, colours and words of /palette.json (realtime/style.py, the desktop overlay's),
// plus frame rates and latency. Frames go only to the server; nothing is stored.

const $ = (id) => document.getElementById(id);
const LATENCY_WINDOW = 300; // frames the latency percentiles are taken over
const FACE_TIMEOUT_MS = 1500; // a gauge goes once its face has not been reported this long

// Everything the page knows, readable from outside (tests, the benchmark): window.callshield.
const state = {
  connection: "new",
  peer: null,
  mode: null,
  timing: "none",
  messages: 0,
  framesWithFaces: 0,
  faces: {},
  latencies: [],
  arrivals: [],
  last: null,
  rtt: null,
  error: null,
  paused: false,
  unread: [], // [latency, server ms] not yet taken by takeLatencies() (the benchmark reads every one)
  summary,
  takeLatencies,
};
window.callshield = state;

let palette = null;
let pc = null;
let channel = null;
let stream = null;
let worker = null;
let pinger = null;
let sender = null; // the video sender while sharing: Pause takes its track away, Resume gives it back
const sentAt = new Map(); // RTP timestamp -> when the frame left (ms since the epoch)

function now() {
  return performance.timeOrigin + performance.now();
}

function percentile(values, q) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function summary() {
  const t = now();
  const recent = state.arrivals.filter((a) => a > t - 2000);
  const span = recent.length > 1 ? (recent[recent.length - 1] - recent[0]) / 1000 : 0;
  return {
    connection: state.connection,
    peer: state.peer,
    timing: state.timing,
    degradation: state.degradation,
    messages: state.messages,
    framesWithFaces: state.framesWithFaces,
    faces: Object.values(state.faces).map((f) => ({ track_id: f.event.track_id, state: f.event.state, risk: f.event.risk })),
    pageFps: span > 0 ? (recent.length - 1) / span : 0,
    serverFps: state.last ? state.last.fps : 0,
    recvFps: state.last ? state.last.recv_fps : 0,
    dropped: state.last ? state.last.dropped : 0,
    latencyP50: percentile(state.latencies, 0.5),
    latencyP95: percentile(state.latencies, 0.95),
    latencyCount: state.latencies.length,
    rtt: state.rtt,
    error: state.error,
    paused: state.paused,
    segment: state.last ? state.last.segment : null,
  };
}

function takeLatencies() {
  const taken = state.unread;
  state.unread = [];
  return taken;
}

function token() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : $("token").value;
}

function headers(contentType) {
  const h = contentType ? { "Content-Type": contentType } : {};
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
  if (isError) state.error = text;
}

// ------------------------------------------------------------------------------ connecting

async function share(mode) {
  await stop();
  state.mode = mode;
  setStatus(mode === "camera" ? "asking for the camera…" : "asking which tab or window to share…");
  try {
    stream = mode === "camera"
      ? await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } }, audio: false,
      })
      : await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 30 } }, audio: false });
  } catch (err) {
    setStatus(`no video: ${err.message || err.name}`, true);
    return;
  }
  const track = stream.getVideoTracks()[0];
  track.addEventListener("ended", () => stop("the shared video ended"));
  $("video").srcObject = stream;
  await connect({ track });
}

async function watch() {
  const id = $("sessions").value;
  if (!id) return setStatus("no WHIP session chosen", true);
  await stop();
  state.mode = "watch";
  $("video").srcObject = null;
  await connect({ watch: id });
}

async function connect({ track, watch }) {
  pc = new RTCPeerConnection();
  const mine = pc;
  channel = pc.createDataChannel("events", { ordered: false, maxRetransmits: 0 });
  channel.onmessage = (event) => onMessage(event.data);
  channel.onopen = () => {
    pinger = setInterval(() => channel.readyState === "open" && channel.send(JSON.stringify({ type: "ping", t: now() })), 2000);
  };
  channel.onclose = () => mine === pc && stop("the server closed the connection");
  pc.onconnectionstatechange = () => {
    state.connection = mine.connectionState;
    if (mine !== pc) return;
    if (mine.connectionState === "connected") setStatus(watch ? `watching WHIP session ${watch}` : "connected: analysing");
    if (mine.connectionState === "failed") stop("the connection failed");
  };
  if (track) {
    const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    sender = transceiver.sender;
    keepResolution(transceiver.sender);
    timeSentFrames(transceiver.sender);
  }
  setStatus("connecting…");
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await fetch("offer", {
      method: "POST",
      headers: headers("application/json"),
      body: JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp, ...(watch ? { watch } : {}) }),
    });
    if (!response.ok) {
      const why = (await response.text()).trim();
      await stop();
      setStatus(`the server refused: ${why}`, true);
      return;
    }
    const answer = await response.json();
    state.peer = answer.peer;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    $("stop").disabled = false;
    $("pause").disabled = !track;
  } catch (err) {
    await stop();
    setStatus(`could not connect: ${err.message || err}`, true);
  }
}

// aiortc answers with every candidate at once and takes none later: send the offer complete.
function gathered(peer) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (peer.iceGatheringState === "complete") {
        peer.removeEventListener("icegatheringstatechange", done);
        resolve();
      }
    };
    peer.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000);
  });
}

// Faces need pixels more than frames: the server analyses the newest frame and drops the rest
// anyway, so when the browser must send less (CPU or bandwidth), it lowers the frame rate rather
// than the resolution, and small faces in a call's gallery stay detectable.
async function keepResolution(sender) {
  try {
    const params = sender.getParameters();
    params.degradationPreference = "maintain-resolution";
    await sender.setParameters(params);
    state.degradation = sender.getParameters().degradationPreference || "balanced";
  } catch (_) {
    state.degradation = "balanced"; // not supported here: the browser's default applies
  }
}

function timeSentFrames(sender) {
  if (!("RTCRtpScriptTransform" in window)) {
    state.timing = "none";
    return;
  }
  worker = new Worker("sender-worker.js");
  worker.onmessage = ({ data }) => {
    sentAt.set(data.rtp, data.at);
    state.lastSentRtp = data.rtp;
    if (sentAt.size > 900) sentAt.delete(sentAt.keys().next().value);
  };
  sender.transform = new RTCRtpScriptTransform(worker, {});
  state.timing = "rtp";
}

async function stop(reason) {
  if (pinger) clearInterval(pinger);
  pinger = null;
  if (channel && channel.readyState === "open") {
    try { channel.send(JSON.stringify({ type: "bye" })); } catch (_) { /* closing anyway */ }
  }
  if (pc) pc.close();
  pc = null;
  channel = null;
  if (worker) worker.terminate();
  worker = null;
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  sentAt.clear();
  state.connection = "closed";
  state.faces = {};
  renderFaces();
  sender = null;
  showPaused(false);
  $("stop").disabled = true;
  $("pause").disabled = true;
  if (reason) setStatus(`stopped: ${reason}`);
}

// Pausing sends nothing (the browser stops the stream, the connection stays); the server keeps
// the session and, on resume, starts a new time segment: faces are tracked afresh.
async function togglePause() {
  if (!sender || !stream) return;
  const pausing = !state.paused;
  await sender.replaceTrack(pausing ? null : stream.getVideoTracks()[0]);
  showPaused(pausing);
  setStatus(pausing ? "paused: no video is sent" : "connected: analysing");
}

function showPaused(paused) {
  state.paused = paused;
  $("pause").textContent = paused ? "Resume" : "Pause";
  $("pause").setAttribute("aria-pressed", String(paused));
}

// ------------------------------------------------------------------------------ events

function onMessage(text) {
  let msg;
  try { msg = JSON.parse(text); } catch (_) { return; }
  if (msg.type === "pong") {
    state.rtt = now() - msg.t;
    return;
  }
  if (msg.type === "end") {
    stop(`the session ended (${msg.reason})`);
    return;
  }
  if (msg.type !== "frame") return;
  const t = now();
  state.messages += 1;
  state.last = msg;
  state.arrivals.push(t);
  if (state.arrivals.length > 120) state.arrivals.shift();
  if (msg.rtp !== null && sentAt.has(msg.rtp)) {
    const latency = t - sentAt.get(msg.rtp);
    state.latencies.push(latency);
    if (state.latencies.length > LATENCY_WINDOW) state.latencies.shift();
    if (state.unread.length < 100000) state.unread.push([latency, msg.server_ms]);
  }
  if (msg.events.length) state.framesWithFaces += 1;
  for (const event of msg.events) state.faces[event.track_id] = { event, seen: t, size: msg.size };
  for (const [id, face] of Object.entries(state.faces)) {
    if (t - face.seen > FACE_TIMEOUT_MS) delete state.faces[id];
  }
  renderFaces();
  renderStats();
}

function stateStyle(name) {
  return palette.states[name] || palette.states.uncertain;
}

function whyUncertain(event) {
  // realtime/style.py why_uncertain(), with its words from the palette.
  if (event.state !== "uncertain") return "";
  const words = event.quality.map((q) => palette.quality[q] || q.replaceAll("_", " "));
  if (words.length) return words.join(", ");
  if (event.reason) return palette.reasons[event.reason] || event.reason.replaceAll("_", " ");
  return "";
}

const cards = new Map(); // track id -> its gauge element, updated in place frame after frame

function renderFaces() {
  const aside = $("faces");
  const faces = Object.values(state.faces).sort((a, b) => a.event.track_id - b.event.track_id);
  for (const [id, card] of cards) {
    if (!(id in state.faces)) {
      card.remove();
      cards.delete(id);
    }
  }
  aside.querySelector(".empty")?.remove();
  if (!faces.length) {
    aside.replaceChildren(Object.assign(document.createElement("p"), { className: "empty", textContent: "no face yet" }));
    return;
  }
  for (const { event } of faces) {
    const id = String(event.track_id);
    if (!cards.has(id)) {
      cards.set(id, gauge(id));
      aside.append(cards.get(id));
    }
    update(cards.get(id), event);
  }
}

function gauge(id) {
  const card = document.createElement("div");
  card.className = "gauge";
  card.dataset.track = id;
  const head = document.createElement("div");
  head.className = "head";
  head.append(Object.assign(document.createElement("span"), { textContent: `Face ${id}` }));
  head.append(Object.assign(document.createElement("span"), { className: "words" }));
  const bar = Object.assign(document.createElement("div"), { className: "bar" });
  bar.append(Object.assign(document.createElement("div"), { className: "fill" }));
  card.append(head, bar, Object.assign(document.createElement("div"), { className: "why" }));
  return card;
}

function update(card, event) {
  const style = stateStyle(event.state);
  card.dataset.state = event.state;
  card.style.setProperty("--state", style.hex);
  card.querySelector(".words").textContent = style.words;
  card.querySelector(".fill").style.width = `${Math.round(100 * (event.risk ?? 0))}%`;
  const risk = event.risk === null ? "risk –" : `risk ${Math.round(100 * event.risk)}%`;
  card.querySelector(".why").textContent = whyUncertain(event) || risk;
}

function renderStats() {
  const s = summary();
  const ms = (v) => (v === null ? "–" : `${Math.round(v)} ms`);
  const parts = [
    `${s.pageFps.toFixed(1)} fps at the page`,
    `analysed ${s.serverFps.toFixed(1)} fps`,
    `received ${s.recvFps.toFixed(1)} fps`,
    `dropped ${s.dropped}`,
  ];
  if (state.timing === "rtp") parts.push(`latency p50 ${ms(s.latencyP50)} · p95 ${ms(s.latencyP95)}`);
  else if (state.last) parts.push(`server ${ms(state.last.server_ms)}`);
  if (s.rtt !== null) parts.push(`RTT ${ms(s.rtt)}`);
  $("stats").textContent = parts.join(" · ");
}

// ------------------------------------------------------------------------------ drawing

function draw() {
  const canvas = $("overlay");
  const video = $("video");
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  const faces = Object.values(state.faces);
  if (faces.length && palette) {
    const [fw, fh] = faces[0].size;
    const vw = video.videoWidth || fw;
    const vh = video.videoHeight || fh;
    // The video is drawn "contain"-fitted; boxes are in the server's frame pixels.
    const scale = Math.min(width / vw, height / vh);
    const ox = (width - vw * scale) / 2;
    const oy = (height - vh * scale) / 2;
    const sx = (vw / fw) * scale;
    const sy = (vh / fh) * scale;
    ctx.lineWidth = 3;
    ctx.font = "600 15px system-ui, sans-serif";
    for (const { event } of faces) {
      const style = stateStyle(event.state);
      const [x0, y0, x1, y1] = event.box;
      const x = ox + x0 * sx;
      const y = oy + y0 * sy;
      const w = (x1 - x0) * sx;
      const h = (y1 - y0) * sy;
      ctx.strokeStyle = style.hex;
      ctx.strokeRect(x, y, w, h);
      // The face's gauge, under its box: risk from 0 to 100% in its state's colour.
      ctx.fillStyle = "rgba(0, 0, 0, 0.55)";
      ctx.fillRect(x - 1.5, y + h + 4, w + 3, 8);
      ctx.fillStyle = style.hex;
      ctx.fillRect(x - 1.5, y + h + 4, (w + 3) * Math.min(1, Math.max(0, event.risk ?? 0)), 8);
      const label = event.risk === null ? style.words : `${style.words} ${Math.round(100 * event.risk)}%`;
      const tw = ctx.measureText(label).width + 10;
      ctx.fillStyle = style.hex;
      ctx.fillRect(x - 1.5, Math.max(0, y - 22), tw, 22);
      ctx.fillStyle = "#fff";
      ctx.fillText(label, x + 4, Math.max(16, y - 6));
    }
  }
  requestAnimationFrame(draw);
}

// ------------------------------------------------------------------------------ sessions

async function refreshSessions() {
  const response = await fetch("sessions", { headers: headers() });
  if (!response.ok) return setStatus(`cannot list sessions: ${(await response.text()).trim()}`, true);
  const { sessions } = await response.json();
  const select = $("sessions");
  const options = sessions.map((s) => Object.assign(document.createElement("option"), {
    value: s.id, textContent: `WHIP ${s.id.slice(0, 6)}… (${s.recv_fps} fps, ${Math.round(s.age_s)} s)`,
  }));
  if (!options.length) options.push(Object.assign(document.createElement("option"), { value: "", textContent: "no WHIP session" }));
  select.replaceChildren(...options);
}

async function main() {
  const response = await fetch("palette.json");
  palette = await response.json();
  if (palette.token_required && !/(?:^#|&)token=/.test(location.hash)) $("token").hidden = false;
  $("camera").onclick = () => share("camera");
  $("screen").onclick = () => share("screen");
  $("watch").onclick = watch;
  $("refresh").onclick = refreshSessions;
  $("stop").onclick = () => stop("stopped by you");
  $("pause").onclick = togglePause;
  window.addEventListener("pagehide", () => stop());
  requestAnimationFrame(draw);
  state.ready = true;
}

main();
