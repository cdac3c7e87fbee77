// SG3 Explorer in a browser: a client of the render service. The page's state is one RenderRequest (the
// JSON of stylegan3/documents/request.py, as the server's hello gives its defaults); every control edits a
// copy of it and the newest one is sent (the server keeps only the newest per view: latest wins). Frames come
// back as a JSON header and then the PNG (lossless) or JPEG bytes, shown as they are in an <img>.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const clone = (x) => JSON.parse(JSON.stringify(x));

  const S = {
    request: null, // the request shown in view a (network included)
    info: null, // NetworkInfo of view a's network
    networkB: null, infoB: null, compare: false,
    lossless: true, losslessFormat: "png", quality: 90,
    bookmarks: [],
    shown: { a: null, b: null }, // {request, header, blob} of the frame on screen
    sticking: { a: null, b: null }, // the last sticking view's header per view
    frames: 0, lastFrameAt: 0, frameMs: [],
    animate: false, spectrumLive: false,
    connected: false,
    errors: [],
  };
  window.sg3 = S; // tests and notebooks read the state here

  // ---------------------------------------------------------------- socket
  let ws = null, nextId = 1, header = null, retry = 500;
  const sent = new Map(); // id -> request dict (bounded)
  const waiting = new Map(); // id -> resolve, for one-shot replies

  function socketUrl() {
    const base = location.pathname.replace(/[^/]*$/, "");
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + base + "ws" + location.search;
  }

  function connect() {
    ws = new WebSocket(socketUrl());
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { retry = 500; S.connected = true; dot("on"); send("hello"); };
    ws.onclose = () => {
      S.connected = false; dot("");
      setTimeout(connect, retry); retry = Math.min(retry * 2, 8000);
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") onMessage(JSON.parse(ev.data));
      else onFrameBytes(ev.data);
    };
  }

  function send(op, body = {}) {
    const id = nextId++;
    if (ws && ws.readyState === 1) ws.send(JSON.stringify({ op, id, ...body }));
    return id;
  }

  function ask(op, body) { // a one-shot request: resolves with its reply
    return new Promise((resolve, reject) => {
      const id = send(op, body);
      waiting.set(id, { resolve, reject });
    });
  }

  function onMessage(m) {
    const w = waiting.get(m.id);
    if (m.op === "error") {
      showError(m.error);
      if (w) { waiting.delete(m.id); w.reject(new Error(m.error)); }
      return;
    }
    if (w) { waiting.delete(m.id); w.resolve(m); }
    if (m.op === "hello") onHello(m);
    else if (m.op === "frame" || m.op === "sticking") header = m;
    else if (m.op === "spectrum") drawSpectrum(m);
  }

  // ---------------------------------------------------------------- networks
  function onHello(m) {
    const first = !S.request;
    if (first) S.request = m.request;
    fillNetworks($("network"), m.networks);
    fillNetworks($("network-b"), m.networks);
    if (m.networks.length > 1) $("network-b").value = m.networks[1];
    loadNetwork(first ? m.networks[0] : S.request.network.source, "a");
  }

  function fillNetworks(select, names) {
    select.innerHTML = "";
    for (const n of names) select.append(new Option(shortName(n), n));
  }

  const shortName = (n) => (n.includes("/") && !/^https?:/.test(n) ? n.split("/").pop() : n);

  async function loadNetwork(source, view) {
    if (!source) return;
    dot("busy");
    $(view === "a" ? "net-info" : "cap-b").textContent = "loading " + source + " …";
    let reply;
    try {
      reply = await ask("load", { source });
    } catch (e) {
      $(view === "a" ? "net-info" : "cap-b").textContent = view === "a" ? infoLine(S.info) : "";
      dot(S.connected ? "on" : "");
      return;
    }
    dot("on");
    if (view === "a") {
      S.info = reply.info;
      S.request.network.source = source;
      if (![...$("network").options].some((o) => o.value === source)) $("network").append(new Option(shortName(source), source));
      $("network").value = source;
      onInfo();
    } else {
      S.infoB = reply.info;
      S.networkB = source;
    }
    render();
  }

  const infoLine = (i) => (i ? `${i.kind} · ${i.resolution}² · ${(i.num_params / 1e6).toFixed(1)} M params · ${i.device}` : "");

  function onInfo() {
    const i = S.info;
    $("net-info").textContent = infoLine(i);
    const sel = $("layer");
    const keep = S.request.layer.layer;
    sel.innerHTML = "";
    sel.append(new Option("output", ""));
    for (const l of i.layers) sel.append(new Option(`${l.name}  ${l.width}×${l.height}×${l.channels}`, l.name));
    if (!i.layers.some((l) => l.name === keep)) S.request.layer.layer = null;
    sel.value = S.request.layer.layer || "";
    const t = i.capabilities.input_transform;
    $("transform-box").classList.toggle("disabled", !t);
    for (const id of ["tx", "ty", "rot", "untransform", "untransform-view", "reset-transform"]) $(id).disabled = !t;
    $("class-row").hidden = !i.c_dim;
    syncControls();
  }

  // ---------------------------------------------------------------- requests and frames
  let renderQueued = false;
  function render() {
    if (renderQueued || !S.request || !S.info) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; sendRender(); });
  }

  function sendRender() {
    const fmt = S.lossless ? S.losslessFormat : "jpeg";
    const req = clone(S.request);
    const id = send("render", { view: "a", request: req, format: fmt, quality: S.quality });
    remember(id, req, "a");
    if (S.compare && S.infoB) {
      const b = clone(req);
      b.network.source = S.networkB;
      if (b.layer.layer && !S.infoB.layers.some((l) => l.name === b.layer.layer)) b.layer.layer = null;
      if (!S.infoB.capabilities.input_transform) { b.transform = clone(S.request.transform); }
      const idb = send("render", { view: "b", request: b, format: fmt, quality: S.quality });
      remember(idb, b, "b");
    }
  }

  function remember(id, req, view) {
    sent.set(id, { req, view, at: performance.now() });
    if (sent.size > 200) sent.delete(sent.keys().next().value);
  }

  async function onFrameBytes(buf) {
    const h = header;
    header = null;
    if (!h) return;
    const view = h.view || "a";
    if (h.op === "sticking") { showSticking(h, buf, view); return; }
    const out = sent.get(h.id);
    const img = $("img-" + view), canvas = $("raw-" + view);
    const t0 = performance.now();
    let blob = null;
    if (h.format === "raw") { // RGB bytes, lossless and without an encoder: the fastest on a fast link
      const rgb = new Uint8Array(buf), n = h.width * h.height;
      if (rgb.length !== n * 3) return;
      const data = new ImageData(h.width, h.height);
      const px = data.data;
      for (let i = 0, j = 0; i < n; i++, j += 3) {
        px[4 * i] = rgb[j]; px[4 * i + 1] = rgb[j + 1]; px[4 * i + 2] = rgb[j + 2]; px[4 * i + 3] = 255;
      }
      canvas.width = h.width; canvas.height = h.height;
      canvas.getContext("2d").putImageData(data, 0, 0);
      canvas.hidden = false; img.hidden = true;
    } else {
      blob = new Blob([buf], { type: h.format === "png" ? "image/png" : "image/jpeg" });
      const url = URL.createObjectURL(blob);
      const probe = new Image();
      probe.src = url;
      try { await probe.decode(); } catch (e) { URL.revokeObjectURL(url); return; }
      const old = img.src;
      img.src = url;
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      img.hidden = false; canvas.hidden = true;
    }
    const decodeMs = performance.now() - t0;
    S.shown[view] = { request: out ? out.req : null, header: h, blob, decode_ms: decodeMs };
    if (view === "a") frameShown(h, decodeMs, out);
    else $("cap-b").textContent = caption(S.infoB, out && out.req);
  }

  // The sticking view: the average of K slightly perturbed renders; detail stuck to the pixel grid stays sharp
  // (StyleGAN2), detail that moves with the content blurs (StyleGAN3). Shown until the next edit.
  function showSticking(h, buf, view) {
    const img = $("img-" + view);
    const old = img.src;
    img.src = URL.createObjectURL(new Blob([buf], { type: "image/png" }));
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    img.hidden = false; $("raw-" + view).hidden = true;
    S.sticking[view] = h;
    const source = view === "a" ? S.request.network.source : S.networkB;
    const cap = $("cap-" + view);
    cap.textContent = `${shortName(source)} · sticking score ${h.score.toFixed(3)} · mean of ${h.samples} renders`;
    cap.title = "Sticking view: the average of slightly perturbed renders; the score is the fraction of fine " +
      "detail that stays fixed to the pixel grid (any edit returns to the live view)";
  }

  function askSticking() {
    if (!S.request) return;
    const req = clone(S.request);
    send("sticking", { view: "a", request: req });
    if (S.compare && S.infoB) {
      const b = clone(req);
      b.network.source = S.networkB;
      b.layer.layer = null;
      send("sticking", { view: "b", request: b });
    }
    $("cap-a").textContent = "sticking: rendering perturbed samples …";
  }

  function frameShown(h, decodeMs, out) {
    const now = performance.now();
    if (S.lastFrameAt) { S.frameMs.push(now - S.lastFrameAt); if (S.frameMs.length > 60) S.frameMs.shift(); }
    S.lastFrameAt = now;
    S.frames += 1;
    $("img-a").dataset.frames = String(S.frames);
    const med = median(S.frameMs);
    $("st-frame").textContent = `${h.width}×${h.height} ${h.format.toUpperCase()}`;
    $("st-fps").textContent = med ? `frame-to-frame ${med.toFixed(1)} ms (${(1000 / med).toFixed(1)} fps)` : "";
    $("st-render").textContent = `render ${h.render_ms.toFixed(1)} ms`;
    $("st-bytes").textContent = `${(h.bytes / 1024).toFixed(0)} KiB`;
    $("st-encode").textContent = `encode ${h.encode_ms.toFixed(1)} ms`;
    $("st-decode").textContent = `decode ${decodeMs.toFixed(1)} ms`;
    $("st-rtt").textContent = out ? `request → shown ${(now - out.at).toFixed(1)} ms` : "";
    $("cap-a").textContent = caption(S.info, out && out.req, h.stats);
    if (S.bench) S.bench.onFrame(now);
    else if (S.animate) stepAnimation(now);
    if (S.spectrumLive) askSpectrum();
  }

  function caption(info, req, stats) {
    if (!info || !req) return "";
    const l = req.layer.layer ? `${req.layer.layer}${req.layer.channel !== null ? " ch " + req.layer.channel : ""}` : "output";
    const t = req.transform;
    const moved = t.translate[0] || t.translate[1] || t.rotate
      ? ` · t (${t.translate[0].toFixed(3)}, ${t.translate[1].toFixed(3)}) r ${t.rotate.toFixed(3)}` : "";
    const st = stats && stats.layer_stats ? ` · mean ${stats.layer_stats.selected.mean.toFixed(3)} std ${stats.layer_stats.selected.std.toFixed(3)}` : "";
    return `${shortName(req.network.source)} · seed ${fmtNum(req.latent.x)}${req.latent.y ? "," + fmtNum(req.latent.y) : ""} · ψ ${req.truncation.psi.toFixed(2)} · ${l}${moved}${st}`;
  }

  const fmtNum = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(2));
  function median(a) {
    if (!a.length) return 0;
    const s = [...a].sort((x, y) => x - y);
    return s[Math.floor(s.length / 2)];
  }

  function dot(cls) { $("conn").className = "dot " + cls; }

  let errorTimer = 0;
  function showError(text) {
    S.errors.push(text);
    const e = $("error");
    e.textContent = text;
    e.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => { e.hidden = true; }, 8000);
  }

  // ---------------------------------------------------------------- edits
  function edit(section, fields) {
    Object.assign(S.request[section], fields);
    syncControls();
    render();
  }

  function setSeed(x, y = 0) { edit("latent", { x, y }); }

  function syncControls() {
    const r = S.request;
    if (!r) return;
    setValue("seed", Math.floor(r.latent.x));
    $("pad-x").textContent = r.latent.x.toFixed(2);
    $("pad-y").textContent = r.latent.y.toFixed(2);
    setValue("class", r.latent.class_idx);
    setValue("psi", r.truncation.psi);
    $("psi-out").textContent = r.truncation.psi.toFixed(2);
    setValue("cutoff", r.truncation.cutoff === null ? "" : r.truncation.cutoff);
    setValue("mix-seed", r.mix.seed);
    $("mix-on").checked = r.mix.ws.length > 0;
    setValue("noise-mode", r.noise.mode);
    setValue("noise-seed", r.noise.seed);
    setValue("tx", +r.transform.translate[0].toFixed(4));
    setValue("ty", +r.transform.translate[1].toFixed(4));
    setValue("rot", +r.transform.rotate.toFixed(4));
    $("untransform").checked = r.untransform.enabled;
    setValue("untransform-view", r.untransform.view);
    setValue("layer", r.layer.layer || "");
    setValue("channel", r.layer.channel === null ? "" : r.layer.channel);
    $("normalize").checked = r.layer.normalize;
    setValue("gain", r.layer.gain_db);
    $("fft").checked = r.fft.enabled;
    setValue("fft-window", r.fft.window);
    drawPad();
  }

  function setValue(id, v) {
    const el = $(id);
    if (document.activeElement !== el) el.value = v;
  }

  const num = (id, fallback = 0) => { const v = parseFloat($(id).value); return Number.isFinite(v) ? v : fallback; };
  const intOrNull = (id) => { const v = parseInt($(id).value, 10); return Number.isFinite(v) && v >= 0 ? v : null; };

  function mixWs() {
    if (!$("mix-on").checked || !S.info) return [];
    const n = S.info.num_ws;
    const from = Math.max(0, intOrNull("mix-from") ?? 0);
    const to = Math.min(n - 1, intOrNull("mix-to") ?? n - 1);
    const ws = [];
    for (let k = from; k <= to; k++) ws.push(k);
    return ws;
  }

  function bindControls() {
    $("seed").addEventListener("change", () => setSeed(Math.trunc(num("seed"))));
    $("seed-dec").onclick = () => setSeed(Math.floor(S.request.latent.x) - 1);
    $("seed-inc").onclick = () => setSeed(Math.floor(S.request.latent.x) + 1);
    $("class").addEventListener("change", () => edit("latent", { class_idx: Math.max(0, Math.trunc(num("class"))) }));
    $("psi").addEventListener("input", () => edit("truncation", { psi: num("psi", 1) }));
    $("cutoff").addEventListener("change", () => edit("truncation", { cutoff: intOrNull("cutoff") }));
    const mix = () => edit("mix", { seed: Math.trunc(num("mix-seed")), ws: mixWs() });
    for (const id of ["mix-seed", "mix-from", "mix-to", "mix-on"]) $(id).addEventListener("change", mix);
    $("noise-mode").addEventListener("change", () => edit("noise", { mode: $("noise-mode").value }));
    $("noise-seed").addEventListener("change", () => edit("noise", { seed: Math.max(0, Math.trunc(num("noise-seed"))) }));
    const tr = () => edit("transform", { translate: [num("tx"), num("ty")], rotate: num("rot") });
    for (const id of ["tx", "ty", "rot"]) $(id).addEventListener("change", tr);
    $("reset-transform").onclick = () => edit("transform", { translate: [0, 0], rotate: 0 });
    $("untransform").addEventListener("change", () => edit("untransform", { enabled: $("untransform").checked }));
    $("untransform-view").addEventListener("change", () => edit("untransform", { view: $("untransform-view").value }));
    $("layer").addEventListener("change", () => edit("layer", { layer: $("layer").value || null }));
    $("channel").addEventListener("change", () => edit("layer", { channel: intOrNull("channel") }));
    $("normalize").addEventListener("change", () => edit("layer", { normalize: $("normalize").checked }));
    $("gain").addEventListener("change", () => edit("layer", { gain_db: num("gain") }));
    $("fft").addEventListener("change", () => edit("fft", { enabled: $("fft").checked }));
    $("fft-window").addEventListener("change", () => edit("fft", { window: $("fft-window").value }));
    $("spectrum-live").addEventListener("change", () => {
      S.spectrumLive = $("spectrum-live").checked;
      $("spectrum-box").hidden = !S.spectrumLive;
      if (S.spectrumLive) askSpectrum();
    });
    $("network").addEventListener("change", () => loadNetwork($("network").value, "a"));
    $("network-load").onclick = () => loadNetwork($("network-custom").value.trim(), "a");
    $("network-custom").addEventListener("keydown", (e) => { if (e.key === "Enter") $("network-load").click(); });
    $("compare").addEventListener("change", () => {
      S.compare = $("compare").checked;
      $("view-b").hidden = !S.compare;
      if (S.compare) loadNetwork($("network-b").value, "b"); else render();
    });
    $("network-b").addEventListener("change", () => { if (S.compare) loadNetwork($("network-b").value, "b"); });
    $("sticking").onclick = askSticking;
    $("lossless").addEventListener("change", () => { S.lossless = $("lossless").checked; render(); });
    $("lossless-format").addEventListener("change", () => { S.losslessFormat = $("lossless-format").value; render(); });
    $("quality").addEventListener("change", () => {
      S.quality = Math.min(100, Math.max(1, Math.trunc(num("quality", 90)))); render();
    });
    $("download").onclick = downloadPng;
    $("animate").addEventListener("change", () => { S.animate = $("animate").checked; S.animLast = 0; render(); });
    for (const id of ["img-a", "img-b", "raw-a", "raw-b"]) bindDrag($(id));
    bindPad();
    bindBookmarks();
    document.addEventListener("keydown", onKey);
  }

  // ---------------------------------------------------------------- dragging on the image
  function shownSize(img) {
    const nw = img.naturalWidth || img.width || 1, nh = img.naturalHeight || img.height || 1;
    const s = Math.min(img.clientWidth / nw, img.clientHeight / nh);
    return nw * s || 1;
  }

  function bindDrag(img) {
    let start = null;
    img.addEventListener("contextmenu", (e) => e.preventDefault());
    img.addEventListener("pointerdown", (e) => {
      if (!S.info || !S.info.capabilities.input_transform) return;
      img.setPointerCapture(e.pointerId);
      img.classList.add("dragging");
      start = { x: e.clientX, y: e.clientY, rotate: e.shiftKey || e.button === 2,
        t: clone(S.request.transform), size: shownSize(img) };
      e.preventDefault();
    });
    img.addEventListener("pointermove", (e) => {
      if (!start) return;
      const dx = (e.clientX - start.x) / start.size, dy = (e.clientY - start.y) / start.size;
      if (start.rotate) edit("transform", { rotate: start.t.rotate + dx * 0.5 });
      else edit("transform", { translate: [start.t.translate[0] + dx, start.t.translate[1] + dy] });
    });
    const end = () => { start = null; img.classList.remove("dragging"); };
    img.addEventListener("pointerup", end);
    img.addEventListener("pointercancel", end);
  }

  // ---------------------------------------------------------------- the seed plane
  const PAD_SPAN = 4; // seeds across the pad
  let padCenter = null;
  function padOrigin() {
    const r = S.request.latent;
    return padCenter || { x: Math.round(r.x), y: Math.round(r.y) };
  }

  function drawPad() {
    const c = $("pad"), g = c.getContext("2d");
    const W = c.width, o = padOrigin(), r = S.request.latent;
    const px = (v, o0) => W / 2 + (v - o0) * (W / PAD_SPAN);
    g.clearRect(0, 0, W, W);
    g.fillStyle = "#3a4050";
    g.font = "10px system-ui";
    for (let i = -2; i <= 2; i++) for (let j = -2; j <= 2; j++) {
      const x = px(o.x + i, o.x), y = px(o.y + j, o.y);
      g.beginPath(); g.arc(x, y, 2.5, 0, 2 * Math.PI); g.fill();
      if (j === 2 && i > -2 && i < 2) { g.fillStyle = "#6b7386"; g.fillText(String(o.x + i), x - 4, W - 3); g.fillStyle = "#3a4050"; }
    }
    g.strokeStyle = "#5aa9ff"; g.lineWidth = 2;
    g.beginPath(); g.arc(px(r.x, o.x), px(r.y, o.y), 6, 0, 2 * Math.PI); g.stroke();
  }

  function bindPad() {
    const c = $("pad");
    let down = false;
    const at = (e) => {
      const b = c.getBoundingClientRect(), o = padOrigin();
      const x = o.x + ((e.clientX - b.left) / b.width - 0.5) * PAD_SPAN;
      const y = o.y + ((e.clientY - b.top) / b.height - 0.5) * PAD_SPAN;
      setSeed(Math.round(x * 100) / 100, Math.round(y * 100) / 100);
    };
    c.addEventListener("pointerdown", (e) => { down = true; padCenter = padOrigin(); c.setPointerCapture(e.pointerId); at(e); });
    c.addEventListener("pointermove", (e) => { if (down) at(e); });
    c.addEventListener("pointerup", () => { down = false; padCenter = null; drawPad(); });
  }

  // ---------------------------------------------------------------- animation: walk the seed plane
  function stepAnimation(now) {
    const dt = S.animLast ? Math.min(0.25, (now - S.animLast) / 1000) : 0;
    S.animLast = now;
    const speed = num("anim-speed", 0.5);
    const x = Math.round((S.request.latent.x + speed * dt) * 1000) / 1000;
    setSeed(x, S.request.latent.y);
  }

  // ---------------------------------------------------------------- the spectrum of the shown layer
  let spectrumBusy = false, spectrumKey = "";
  function askSpectrum() {
    if (spectrumBusy || !S.request) return;
    const r = S.request;
    const key = JSON.stringify([r.network, r.latent, r.truncation, r.layer.layer]);
    if (key === spectrumKey) return;
    spectrumKey = key;
    spectrumBusy = true;
    ask("spectrum", { request: clone(r) }).catch(() => {}).finally(() => { spectrumBusy = false; });
  }

  function drawSpectrum(m) {
    S.spectrum = m;
    const c = $("spectrum"), g = c.getContext("2d");
    c.width = c.clientWidth || 640;
    const W = c.width, H = c.height, L = 44, B = 18;
    g.clearRect(0, 0, W, H);
    const fmax = m.freqs[m.freqs.length - 1] || 1;
    const lo = Math.min(...m.db), hi = Math.max(...m.db);
    const X = (f) => L + (f / fmax) * (W - L - 8), Y = (d) => 6 + (1 - (d - lo) / (hi - lo || 1)) * (H - B - 8);
    g.strokeStyle = "#323744"; g.fillStyle = "#8a91a3"; g.font = "10px system-ui";
    for (let k = 0; k <= 4; k++) {
      const d = lo + ((hi - lo) * k) / 4;
      g.beginPath(); g.moveTo(L, Y(d)); g.lineTo(W - 8, Y(d)); g.stroke();
      g.fillText(d.toFixed(0) + " dB", 2, Y(d) + 3);
    }
    Object.entries(m.marks || {}).forEach(([name, f], k) => {
      if (!(f > 0 && f <= fmax)) return;
      g.strokeStyle = "#ffb454"; g.beginPath(); g.moveTo(X(f), 6); g.lineTo(X(f), H - B); g.stroke();
      g.fillStyle = "#ffb454"; g.fillText(`${name} ${f.toFixed(1)}`, X(f) + 3, 16 + 12 * k);
    });
    g.strokeStyle = "#5aa9ff"; g.lineWidth = 1.5; g.beginPath();
    m.freqs.forEach((f, i) => (i ? g.lineTo(X(f), Y(m.db[i])) : g.moveTo(X(f), Y(m.db[i]))));
    g.stroke(); g.lineWidth = 1;
    g.fillStyle = "#8a91a3";
    g.fillText(`${m.layer} · radial power spectrum · frequency 0 … ${fmax.toFixed(1)}`, L, H - 4);
  }

  // ---------------------------------------------------------------- bookmarks and session files
  function bindBookmarks() {
    $("bm-add").onclick = addBookmark;
    $("bm-name").addEventListener("keydown", (e) => { if (e.key === "Enter") addBookmark(); });
    $("bm-export").onclick = async () => {
      const text = await S.exportSession();
      saveBlob(new Blob([text], { type: "application/json" }), "explorer.sg3session.json");
    };
    $("bm-import").addEventListener("change", async () => {
      const file = $("bm-import").files[0];
      if (!file) return;
      const reply = await ask("import_session", { text: await file.text() });
      $("bm-import").value = "";
      S.bookmarks = reply.bookmarks;
      drawBookmarks();
      goTo(reply.request);
    });
  }

  // The view and the bookmarks as our session file's text (written by the server's session codec).
  S.exportSession = async () => (await ask("export_session", { request: clone(S.request), bookmarks: S.bookmarks })).text;

  function addBookmark() {
    const name = $("bm-name").value.trim() || `seed ${fmtNum(S.request.latent.x)} ψ ${S.request.truncation.psi.toFixed(2)}`;
    S.bookmarks.push({ name, request: clone(S.request) });
    $("bm-name").value = "";
    drawBookmarks();
  }

  function drawBookmarks() {
    const ul = $("bm-list");
    ul.innerHTML = "";
    S.bookmarks.forEach((b, k) => {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "name"; name.textContent = b.name; name.title = "Go to this view";
      name.onclick = () => goTo(b.request);
      const del = document.createElement("button");
      del.className = "small"; del.textContent = "×"; del.title = "Delete";
      del.onclick = () => { S.bookmarks.splice(k, 1); drawBookmarks(); };
      li.append(name, del);
      ul.append(li);
    });
  }

  function goTo(request) {
    const network = request.network.source;
    S.request = clone(request);
    if (!S.info || network !== S.info.source) loadNetwork(network, "a");
    else { syncControls(); render(); }
  }

  // ---------------------------------------------------------------- PNG download
  function downloadPng() {
    const shown = S.shown.a;
    if (!shown) return;
    const name = `seed${Math.floor(shown.request.latent.x)}.png`;
    if (shown.header.format === "png") { saveBlob(shown.blob, name); return; } // the exact bytes
    let c = $("raw-a");
    if (shown.header.format !== "raw") { // JPEG: the decoded pixels
      const img = $("img-a");
      c = document.createElement("canvas");
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      c.getContext("2d").drawImage(img, 0, 0);
    }
    c.toBlob((b) => saveBlob(b, name), "image/png");
  }

  function saveBlob(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  // ---------------------------------------------------------------- keyboard
  function onKey(e) {
    const t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT") && t.type !== "checkbox" && t.type !== "range") return;
    if (t && t.type === "range" && e.key.startsWith("Arrow")) return; // the slider moves itself
    if (e.ctrlKey || e.metaKey || e.altKey || !S.request) return;
    const r = S.request;
    const layers = ["", ...(S.info ? S.info.layers.map((l) => l.name) : [])];
    const li = layers.indexOf(r.layer.layer || "");
    const keys = {
      ArrowLeft: () => setSeed(Math.floor(r.latent.x) - 1),
      ArrowRight: () => setSeed(Math.floor(r.latent.x) + 1),
      ArrowUp: () => edit("truncation", { psi: Math.round((r.truncation.psi + 0.05) * 100) / 100 }),
      ArrowDown: () => edit("truncation", { psi: Math.round((r.truncation.psi - 0.05) * 100) / 100 }),
      "[": () => edit("layer", { layer: layers[Math.max(0, li - 1)] || null }),
      "]": () => edit("layer", { layer: layers[Math.min(layers.length - 1, li + 1)] || null }),
      f: () => edit("fft", { enabled: !r.fft.enabled }),
      l: () => { $("lossless").click(); },
      b: addBookmark,
      r: () => edit("transform", { translate: [0, 0], rotate: 0 }),
      p: downloadPng,
      " ": () => { $("animate").click(); },
    };
    const fn = keys[e.key] || keys[e.key.toLowerCase()];
    if (fn) { e.preventDefault(); fn(); }
  }

  // ---------------------------------------------------------------- frame-to-frame benchmark (benchmarks/)
  // sg3.runBench(frames, lossless, quality, losslessFormat): each frame shown sends the next seed; resolves with the
  // frame-to-frame times in ms as the page measured them (request sent -> the next frame decoded and shown).
  S.runBench = (frames, lossless, quality = 90, losslessFormat = "png") => new Promise((resolve) => {
    S.lossless = lossless; $("lossless").checked = lossless; S.quality = quality;
    S.losslessFormat = losslessFormat; $("lossless-format").value = losslessFormat;
    const times = [];
    let last = 0;
    S.bench = {
      onFrame(now) {
        if (last) times.push(now - last);
        last = now;
        if (times.length >= frames) { S.bench = null; resolve(times); return; }
        setSeed(Math.floor(S.request.latent.x) + 1);
      },
    };
    setSeed(Math.floor(S.request.latent.x) + 1);
  });

  bindControls();
  connect();
})();
