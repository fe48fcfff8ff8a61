// Telehealth visit pages: the clinician's visit page and the patient's
// join page. Media goes through the server's SFU: the server offers, the
// page answers, candidates trickle both ways over /ws/v1/visits/{id}.
'use strict';

// call joins a visit with a local stream and keeps the connection up: it
// rejoins when the signalling socket drops and asks for an ICE restart
// when the network fails.
function startCall(visitId, stream, handlers, joinCode) {
  const state = { ended: false, pc: null, ws: null, retry: 500, media: { camera_off: false, muted: false } };
  window.vitalwire.call = state;
  const connect = () => {
    const join = joinCode ? `?join=${encodeURIComponent(joinCode)}` : '';
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + `/ws/v1/visits/${encodeURIComponent(visitId)}${join}`);
    state.ws = ws;
    const send = m => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); };
    state.send = send;
    // The camera goes as simulcast (a half-size layer "l" and the full
    // "h"): the server gives each of the others the layer their own
    // connection carries well.
    ws.onopen = () => { state.retry = 500; send({ type: 'join', simulcast: true }); };
    ws.onmessage = async ev => {
      const m = JSON.parse(ev.data);
      if (m.type === 'welcome') {
        if (handlers.admitted) handlers.admitted();
        if (state.screen) state.stopShare(); // a new connection: share again if wanted
        if (state.pc) state.pc.close();
        const pc = new RTCPeerConnection({ iceServers: m.ice_servers || [] });
        state.pc = pc;
        // The microphone and camera go on the server's first audio and
        // video slots, taken from its first offer (an answer sends
        // simulcast only on a transceiver that offer made).
        state.slots = null;
        if (state.media.camera_off || state.media.muted) send({ type: 'media', ...state.media });
        pc.ontrack = e => handlers.track(e.streams[0] || new MediaStream([e.track]), e.track);
        pc.onicecandidate = e => { if (e.candidate) send({ type: 'candidate', candidate: e.candidate.toJSON() }); };
        pc.oniceconnectionstatechange = () => {
          const st = pc.iceConnectionState;
          // A network that drops shows as reconnecting until media flows again.
          handlers.status(st === 'disconnected' || st === 'failed' ? 'reconnecting' : st);
          if (st === 'failed') send({ type: 'restart' });
        };
      } else if (m.type === 'offer') {
        const before = new Set(state.pc.getTransceivers());
        await state.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
        if (!state.slots) {
          const trs = state.pc.getTransceivers();
          state.slots = { audio: trs.find(t => t.receiver.track.kind === 'audio'), video: trs.find(t => t.receiver.track.kind === 'video') };
          for (const kind of ['audio', 'video']) {
            const t = state.slots[kind];
            const track = kind === 'audio' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
            if (!t || !track) continue;
            t.direction = 'sendrecv';
            await t.sender.replaceTrack(track);
            t.sender.setStreams(stream);
          }
          const v = state.slots.video && state.slots.video.sender;
          const p = v && v.getParameters();
          if (p && p.encodings && p.encodings.length > 1) {
            for (const e of p.encodings) Object.assign(e, e.rid === 'l' ? { scaleResolutionDownBy: 2, maxBitrate: 250000 } : { scaleResolutionDownBy: 1, maxBitrate: 1000000 });
            await v.setParameters(p).catch(() => {});
          }
        }
        // The server's new receive slot (after add_track) carries the
        // screen share: exactly that one, not a slot of an old forward.
        const sc = state.screen;
        const slot = sc && !sc.sender && state.pc.getTransceivers().find(t => !before.has(t) && t !== state.slots.video && t.receiver.track.kind === 'video');
        if (slot) {
          slot.direction = 'sendrecv';
          await slot.sender.replaceTrack(sc.track);
          slot.sender.setStreams(sc.stream);
          sc.sender = slot.sender;
        }
        const answer = await state.pc.createAnswer();
        await state.pc.setLocalDescription(answer);
        send({ type: 'answer', sdp: answer.sdp });
      } else if (m.type === 'candidate') {
        try { await state.pc.addIceCandidate(m.candidate); } catch (e) { /* a candidate of an old session */ }
      } else if (m.type === 'participants') {
        handlers.participants(m.participants || [], m.waiting || [], !!m.share_allowed);
      } else if (m.type === 'waiting') {
        if (handlers.waiting) handlers.waiting(!!m.host_present);
      } else if (m.type === 'chat') {
        if (handlers.chat && m.chat) handlers.chat(m.chat);
      } else if (m.type === 'ended') {
        state.ended = true;
        handlers.ended();
      } else if (m.type === 'error') {
        handlers.error(m.error);
      }
    };
    ws.onclose = () => {
      if (state.ws !== ws || state.ended) return;
      handlers.status('reconnecting');
      setTimeout(connect, state.retry = Math.min(state.retry * 2, 8000));
    };
  };
  // A changed network: renegotiate with fresh ICE credentials.
  const online = () => { if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify({ type: 'restart' })); };
  window.addEventListener('online', online);
  // A connection that closed under the page (its network gone, the
  // browser's media stack reset) is a drop like the socket's: show
  // reconnecting and join again with a new connection.
  const watchdog = setInterval(() => {
    if (state.ended) { clearInterval(watchdog); return; }
    if (state.pc && state.pc.signalingState === 'closed' && state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.close();
  }, 500);
  connect();
  // leave ends this participant's part (the visit goes on); the camera
  // and microphone stay open for a rejoin.
  state.leave = () => {
    state.ended = true;
    window.removeEventListener('online', online);
    if (state.ws) { try { state.ws.send(JSON.stringify({ type: 'leave' })); } catch (e) { /* closed */ } state.ws.close(); }
    if (state.pc) state.pc.close();
  };
  state.hangUp = () => {
    state.stopShare();
    state.leave();
    for (const t of stream.getTracks()) t.stop();
  };
  // setMedia tells the others the camera and microphone state.
  state.setMedia = media => { state.media = media; if (state.send) state.send({ type: 'media', ...media }); };
  state.chat = text => { if (state.send) state.send({ type: 'chat', text }); };
  state.admit = subject => { if (state.send) state.send({ type: 'admit', subject }); };
  // replaceTrack sends a newly picked camera or microphone in place of
  // the old one, without renegotiating.
  state.replaceTrack = (old, track) => {
    const sender = state.pc && state.pc.getSenders().find(x => x.track === old);
    if (sender) sender.replaceTrack(track);
  };
  state.allowShare = allow => { if (state.send) state.send({ type: 'allow_share', allow }); };
  // share sends a screen (getDisplayMedia's stream) as one more track.
  state.share = screen => {
    const track = screen.getVideoTracks()[0];
    state.screen = { track, stream: screen, sender: null };
    track.addEventListener('ended', () => { if (state.screen && state.screen.track === track) state.stopShare(); });
    state.send({ type: 'add_track', kind: 'video', screen: true });
  };
  state.stopShare = () => {
    const sc = state.screen;
    if (!sc) return;
    state.screen = null;
    if (sc.sender) { try { sc.sender.replaceTrack(null); } catch (e) { /* closed */ } }
    sc.track.stop();
    if (state.send) state.send({ type: 'remove_track', screen: true });
    if (handlers.shareStopped) handlers.shareStopped();
  };
  return state;
}

// Connection quality, as the server judges it (packet loss both ways and
// the round trip, from its WebRTC statistics and the participants'
// receiver reports): a badge on each video, in words, not colour alone,
// reachable by Tab, with the figures behind it in its label.
const qualityWords = { good: 'Good', fair: 'Fair', poor: 'Poor' };
function qualityBadge() {
  return h('span', { class: 'quality', role: 'note', tabindex: 0, hidden: true },
    h('span', { class: 'bars', 'aria-hidden': 'true' }, h('i', {}), h('i', {}), h('i', {})), h('span', { class: 'quality-text' }));
}
// showQuality sets a badge from a participant's state (whose: "Your
// connection", "Connection of Alice"), and the frame rate the page itself
// decodes of them, when known.
function showQuality(badge, p, whose, fps) {
  const q = p && p.quality;
  badge.hidden = !q;
  if (!q) return;
  badge.dataset.quality = q;
  badge.querySelector('.quality-text').textContent = `Connection: ${qualityWords[q] || q}`;
  const facts = [`${p.loss_pct || 0} % of packets lost`];
  if (p.rtt_ms) facts.push(`${p.rtt_ms} ms round trip`);
  if (fps != null) facts.push(`${Math.round(fps)} video frames a second received`);
  const text = `${whose}: ${q} (${facts.join(', ')})`;
  badge.setAttribute('aria-label', text);
  badge.title = text;
}

// remoteVideos shows one video element per remote participant (the
// server names each forwarded stream after its sender), or, while their
// camera is off, a placeholder with their name rather than a frozen frame.
function remoteVideos(container, names, stage) {
  const byStream = new Map();
  const screens = new Map(); // stream id -> figure
  let states = new Map();
  const dropScreen = id => {
    const fig = screens.get(id);
    if (fig) { fig.remove(); screens.delete(id); }
    stage.hidden = screens.size === 0;
  };
  // A screen share (stream "<subject>~screen") is shown large, on the
  // stage above the cameras; the stage goes when the share stops.
  const screen = (stream, subject) => {
    let fig = screens.get(stream.id);
    if (!fig) {
      const v = h('video', { autoplay: true, playsinline: true, muted: true, class: 'screen-video', 'aria-label': `Screen shared by ${names(subject)}` });
      v.muted = true;
      fig = h('figure', { class: 'video screen', 'data-subject': subject }, v, h('figcaption', {}, `${names(subject)}'s screen`));
      screens.set(stream.id, fig);
      stage.append(fig);
      stream.addEventListener('removetrack', () => { if (!stream.getVideoTracks().length) dropScreen(stream.id); });
    }
    const v = fig.querySelector('video');
    if (v.srcObject !== stream) v.srcObject = stream;
    stage.hidden = false;
  };
  const show = (id, v) => {
    const p = states.get(id) || {};
    const fig = v.closest('figure');
    fig.classList.toggle('camera-off', !!p.camera_off);
    fig.classList.toggle('muted', !!p.muted);
    v.hidden = !!p.camera_off;
    fig.querySelector('.placeholder').hidden = !p.camera_off;
    fig.querySelector('.muted-badge').hidden = !p.muted;
    showQuality(fig.querySelector('.quality'), p, `Connection of ${names(id)}`, fps.get(id));
  };
  // Frames a second each remote video decodes here (the page's own
  // getStats), shown beside the server's judgement.
  const fps = new Map();
  let frames = new Map();
  let lastStats = 0;
  return {
    track(stream, track) {
      if (stream.id.endsWith('~screen')) { screen(stream, stream.id.slice(0, -'~screen'.length)); return; }
      let v = byStream.get(stream.id);
      if (!v) {
        v = h('video', { autoplay: true, playsinline: true, class: 'remote', 'data-participant': stream.id, 'aria-label': `Video of ${names(stream.id)}` });
        v.srcObject = stream;
        if (container.dataset.sink && v.setSinkId) v.setSinkId(container.dataset.sink).catch(() => {});
        byStream.set(stream.id, v);
        container.append(h('figure', { class: 'video', 'data-subject': stream.id }, v,
          h('div', { class: 'placeholder', hidden: true, role: 'img', 'aria-label': `${names(stream.id)}, camera off` }, h('span', { 'aria-hidden': 'true' }, names(stream.id))),
          h('figcaption', {}, names(stream.id), ' ', h('span', { class: 'muted-badge', hidden: true }, '(muted)'), ' ', qualityBadge())));
        show(stream.id, v);
      } else if (v.srcObject !== stream) {
        v.srcObject = stream;
      }
      track.onended = () => {};
    },
    // stats takes the call's getStats report: frames decoded per remote
    // camera since the last one.
    stats(report) {
      const now = performance.now();
      const next = new Map();
      const streamOf = new Map();
      for (const [id, v] of byStream) for (const t of v.srcObject.getVideoTracks()) streamOf.set(t.id, id);
      report.forEach(r => {
        if (r.type !== 'inbound-rtp' || r.kind !== 'video') return;
        const id = streamOf.get(r.trackIdentifier);
        if (id) next.set(id, r.framesDecoded || 0);
      });
      for (const [id, n] of next) if (frames.has(id) && lastStats) fps.set(id, (n - frames.get(id)) * 1000 / (now - lastStats));
      frames = next;
      lastStats = now;
      for (const [id, v] of byStream) show(id, v);
    },
    keep(ps) {
      states = new Map(ps.map(p => [p.subject, p]));
      for (const [id, v] of byStream) {
        if (!states.has(id)) { v.closest('figure').remove(); byStream.delete(id); } else show(id, v);
      }
      for (const id of [...screens.keys()]) {
        const p = states.get(id.slice(0, -'~screen'.length));
        if (!p || !p.sharing) dropScreen(id);
      }
    },
  };
}

// devicePickers offers the browser's cameras, microphones and speakers
// (each a labelled <select>), from before joining: the self-view is the
// camera's preview. A pick replaces the track in the stream and, once in
// a call, the one being sent (replaceTrack, no renegotiation; mute and
// camera off kept); the speaker plays every video in remotes.
function devicePickers(stream, remotes, onError) {
  let call = () => null;
  const camSel = h('select', { id: 'camera-select' });
  const micSel = h('select', { id: 'mic-select' });
  const spkSel = h('select', { id: 'speaker-select' });
  const sinks = 'setSinkId' in HTMLMediaElement.prototype;
  const el = h('div', { class: 'device-pickers', role: 'group', 'aria-label': 'Devices' },
    h('span', { class: 'pick' }, h('label', { for: 'camera-select' }, 'Camera'), camSel),
    h('span', { class: 'pick' }, h('label', { for: 'mic-select' }, 'Microphone'), micSel),
    sinks ? h('span', { class: 'pick' }, h('label', { for: 'speaker-select' }, 'Speaker'), spkSel) : null);
  const fill = async () => {
    const ds = await navigator.mediaDevices.enumerateDevices();
    const opts = (sel, kind, current) => sel.replaceChildren(...ds.filter(d => d.kind === kind).map((d, i) => {
      const o = h('option', { value: d.deviceId }, d.label || `${kind} ${i + 1}`);
      o.selected = d.deviceId === current;
      return o;
    }));
    const at = stream.getAudioTracks()[0]; const vt = stream.getVideoTracks()[0];
    opts(camSel, 'videoinput', vt && vt.getSettings().deviceId);
    opts(micSel, 'audioinput', at && at.getSettings().deviceId);
    opts(spkSel, 'audiooutput', remotes.dataset.sink || 'default');
  };
  fill().catch(() => {});
  navigator.mediaDevices.addEventListener('devicechange', () => fill().catch(() => {}));
  const swap = async (kind, deviceId) => {
    const old = kind === 'audio' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
    const got = await navigator.mediaDevices.getUserMedia(kind === 'audio'
      ? { audio: { deviceId: { exact: deviceId } } } : { video: { deviceId: { exact: deviceId }, width: 640, height: 480 } });
    const track = kind === 'audio' ? got.getAudioTracks()[0] : got.getVideoTracks()[0];
    track.enabled = old ? old.enabled : true; // muted or camera off stays so
    if (old) stream.removeTrack(old);
    stream.addTrack(track);
    const c = call();
    if (c) c.replaceTrack(old, track);
    if (old) old.stop();
  };
  camSel.addEventListener('change', () => swap('video', camSel.value).catch(e => onError('Camera: ' + e.message)));
  micSel.addEventListener('change', () => swap('audio', micSel.value).catch(e => onError('Microphone: ' + e.message)));
  spkSel.addEventListener('change', () => {
    remotes.dataset.sink = spkSel.value;
    for (const v of remotes.querySelectorAll('video')) v.setSinkId(spkSel.value).catch(e => onError('Speaker: ' + e.message));
  });
  // bind routes picks to the call once there is one.
  return { el, bind: get => { call = get; } };
}

// inCall joins a visit and gives both pages the same controls: mute,
// camera off, self-view, leave and rejoin, and the visit's text chat.
// Each control is a button; the toggles say their state in aria-pressed.
function inCall({ visitId, stream, joinCode, remotes, selfFig, names, self, host, devices, handlers }) {
  const stage = h('div', { class: 'stage', id: 'screen-share', hidden: true });
  remotes.parentElement.before(stage);
  const rv = remoteVideos(remotes, names, stage);
  // A dropped network shows as a banner over the call until media flows
  // again (the page rejoins or restarts ICE by itself).
  const banner = h('p', { id: 'reconnect-banner', class: 'banner warning', role: 'status', hidden: true });
  const status = s => {
    const dropped = s === 'reconnecting';
    banner.hidden = !dropped;
    banner.textContent = dropped ? 'Reconnecting… Your connection dropped; the call resumes by itself.' : '';
    remotes.classList.toggle('reconnecting', dropped);
    handlers.status(s);
  };
  // A poor connection, the page's own or another's, says so in words
  // above the call, with what helps.
  const warning = h('p', { id: 'quality-warning', class: 'banner warning', role: 'status', hidden: true });
  const selfBadge = qualityBadge();
  selfFig.querySelector('figcaption').append(' ', selfBadge);
  const showQualities = ps => {
    const mine = ps.find(p => p.subject === self);
    showQuality(selfBadge, mine, 'Your connection', null);
    const poor = ps.filter(p => p.quality === 'poor');
    const lines = [];
    if (mine && mine.quality === 'poor') lines.push(`Your connection is poor (${mine.loss_pct || 0} % of packets lost): video and sound may break up. Moving nearer your Wi-Fi router, closing other apps that use the network, or turning your camera off can help; the chat still works.`);
    const others = poor.filter(p => p.subject !== self);
    if (others.length) lines.push(`${others.map(p => names(p.subject)).join(' and ')}: connection poor. Their video may freeze or their voice break up; the chat still works.`);
    warning.textContent = lines.join(' ');
    warning.hidden = !lines.length;
  };
  // The waiting room, for a clinician: who waits, each with an Admit button.
  const waitingList = h('ul', { id: 'waiting-list', class: 'waiting-list' });
  const waitingRoom = host ? h('section', { class: 'panel', id: 'waiting-room', 'aria-labelledby': 'waiting-h' },
    h('h2', { id: 'waiting-h' }, 'Waiting room'), waitingList) : null;
  const showWaiting = ws => {
    if (!host) return;
    waitingList.replaceChildren(...(ws.length ? ws.map(w => h('li', { 'data-subject': w.subject }, `${names(w.subject)} (${w.role}) is waiting `,
      h('button', { type: 'button', class: 'primary admit', 'data-admit': w.subject, onclick: () => call.admit(w.subject) }, `Admit ${names(w.subject)}`)))
      : [h('li', {}, 'No one is waiting.')]));
  };
  showWaiting([]);
  const chatErr = h('p', { class: 'error', role: 'alert', id: 'chat-error' });
  const log = h('ul', { id: 'chat-log', class: 'chat-log', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const line = m => {
    log.append(h('li', {}, h('time', { datetime: m.at }, timeText(m.at)), ' ', h('strong', {}, m.subject === self ? 'You' : names(m.subject)), ': ', m.text));
    log.scrollTop = log.scrollHeight;
  };
  let call = null;
  const start = () => {
    call = startCall(visitId, stream, {
      track: rv.track,
      status,
      admitted: () => { if (handlers.admitted) handlers.admitted(); },
      waiting: hostPresent => { if (handlers.waiting) handlers.waiting(hostPresent); },
      participants: (ps, ws, shareAllowed) => {
        rv.keep(ps.filter(p => p.subject !== self));
        showQualities(ps);
        showWaiting(ws);
        if (host) allowShare.setAttribute('aria-pressed', String(shareAllowed));
        else {
          share.hidden = !shareAllowed;
          if (!shareAllowed && call.screen) call.stopShare();
        }
        handlers.participants(ps);
      },
      shareStopped: () => share.setAttribute('aria-pressed', 'false'),
      chat: line,
      ended: () => { controls.hidden = true; chatForm.hidden = true; warning.hidden = true; handlers.ended(); },
      error: e => { if (e.startsWith('chat:')) chatErr.textContent = e; else handlers.error(e); },
    }, joinCode);
    call.setMedia(media);
  };
  // The page's own view of what it receives, every 2 s, beside the
  // server's judgement on each video.
  const statsTimer = setInterval(() => {
    const pc = call && call.pc;
    if (pc && pc.signalingState !== 'closed') pc.getStats().then(r => rv.stats(r)).catch(() => {});
  }, 2000);
  onPageLeave(() => clearInterval(statsTimer));
  const media = { camera_off: false, muted: false };
  const toggle = (id, label, onPress) => {
    const b = h('button', { type: 'button', id, 'aria-pressed': 'false' }, label);
    b.addEventListener('click', () => {
      const on = b.getAttribute('aria-pressed') !== 'true';
      b.setAttribute('aria-pressed', String(on));
      onPress(on);
    });
    return b;
  };
  const mic = toggle('mic-toggle', 'Mute', on => {
    for (const t of stream.getAudioTracks()) t.enabled = !on;
    media.muted = on;
    call.setMedia({ ...media });
  });
  const cam = toggle('camera-toggle', 'Camera off', on => {
    for (const t of stream.getVideoTracks()) t.enabled = !on;
    media.camera_off = on;
    selfFig.classList.toggle('camera-off', on);
    call.setMedia({ ...media });
  });
  const selfView = toggle('selfview-toggle', 'Hide self-view', on => { selfFig.hidden = on; });
  // Screen share: a clinician's page always; the others' while a
  // clinician allows it (the server enforces it too).
  const share = toggle('share-toggle', 'Share screen', async on => {
    if (!on) { call.stopShare(); return; }
    try {
      call.share(await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }));
    } catch (e) {
      share.setAttribute('aria-pressed', 'false');
      handlers.error('Screen share: ' + e.message);
    }
  });
  share.hidden = !host;
  const allowShare = toggle('allow-share-toggle', 'Let others share their screen', on => call.allowShare(on));
  const leave = h('button', { type: 'button', id: 'leave-call', class: 'danger' }, 'Leave call');
  const rejoin = h('button', { type: 'button', id: 'rejoin-call', class: 'primary', hidden: true }, 'Rejoin');
  leave.addEventListener('click', () => {
    call.stopShare();
    call.leave();
    rv.keep([]);
    showWaiting([]);
    banner.hidden = true;
    leave.hidden = true; rejoin.hidden = false;
    showQualities([]);
    handlers.left();
    rejoin.focus();
  });
  rejoin.addEventListener('click', () => {
    rejoin.hidden = true; leave.hidden = false;
    start();
    leave.focus();
  });
  const controls = h('div', { class: 'call-controls', role: 'group', 'aria-label': 'Call controls' }, mic, cam, selfView, share, ...(host ? [allowShare] : []), leave, rejoin);
  const input = h('input', { type: 'text', id: 'chat-input', maxlength: 2000, autocomplete: 'off' });
  const chatForm = h('form', { class: 'chat-form' }, h('label', { for: 'chat-input' }, 'Message'), input,
    h('button', { type: 'submit', id: 'chat-send' }, 'Send'));
  chatForm.addEventListener('submit', e => {
    e.preventDefault();
    chatErr.textContent = '';
    if (!input.value.trim()) return;
    call.chat(input.value);
    input.value = '';
  });
  const chat = h('section', { class: 'panel chat', 'aria-labelledby': 'chat-h' }, h('h2', { id: 'chat-h' }, 'Chat'), log, chatForm, chatErr);
  start();
  devices.bind(() => call);
  return { controls, chat, banner, warning, waitingRoom, hangUp: () => call.hangUp(), history: ms => ms.forEach(line) };
}

async function localMedia() {
  return navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
}

// vitalsPanel lists a patient's latest vitals and keeps them live; with
// trends, it draws the last hour with the rule levels of the patient's SpO2
// scale (spo2Scale, when known).
async function vitalsPanel(patient, withTrends, spo2Scale) {
  const enc = encodeURIComponent(patient);
  const latest = await api('GET', `/api/v1/patients/${enc}/latest`);
  const cells = {};
  const list = h('dl', { class: 'live-vitals' });
  const byType = {};
  for (const r of latest.readings) byType[r.type] = r;
  const show = (type, r) => {
    const cell = cells[type];
    cell.value.textContent = r ? readingText(r) : '—';
    cell.unit.hidden = !r;
    if (!r) { cell.age.textContent = ''; cell.dd.classList.remove('stale'); return; }
    const t = Date.parse(r.time);
    const stale = isStale(type, t);
    cell.dd.classList.toggle('stale', stale);
    cell.age.textContent = stale ? `stale: ${ago(t)}` : ago(t);
  };
  for (const type of tileTypes()) {
    const value = h('span', { class: 'value' });
    const age = h('span', { class: 'age' });
    const unit = h('span', { class: 'unit' }, vital(type).symbol);
    const dd = h('dd', { 'data-vital': type }, value, ' ', unit, ' ', age);
    cells[type] = { dd, value, unit, age };
    list.append(h('dt', {}, vital(type).label), dd);
    show(type, byType[type]);
  }
  const ages = setInterval(() => { for (const type of Object.keys(cells)) show(type, byType[type]); }, 5000);
  onPageLeave(() => clearInterval(ages));
  const trends = h('div', {});
  const panel = h('section', { class: 'panel', 'aria-labelledby': 'vitals-h' }, h('h2', { id: 'vitals-h' }, 'Live vitals'), list, trends);
  if (withTrends) {
    // The last hour from the store, as context; refreshed every 15 s.
    const rules = await api('GET', '/api/v1/rules');
    const drawTrends = async () => {
      const now = Date.now();
      const figs = [];
      for (const t of sparkTypes()) {
        const r = await api('GET', `/api/v1/patients/${enc}/aggregates?type=${t}&since=1h&every=60s`, undefined, true);
        if (r.windows && r.windows.length) figs.push(trendChart(t, r.windows, now - 3600e3, now, 60e3, rules.filter(x => x.vital === t && x.level != null && (!x.spo2_scale || !spo2Scale || x.spo2_scale === spo2Scale)), [], () => {}, 360));
      }
      trends.replaceChildren(...(figs.length ? figs : [h('p', {}, 'No readings in the last hour yet.')]));
    };
    await drawTrends();
    const every = setInterval(() => drawTrends().catch(() => {}), 15000);
    onPageLeave(() => clearInterval(every));
  }
  live.handlers.add(m => {
    if (m.patient !== patient || m.type !== 'reading' || !m.reading) return;
    const r = m.reading;
    const old = byType[r.type];
    if (!cells[r.type] || (old && Date.parse(old.time) > Date.parse(r.time))) return;
    byType[r.type] = r;
    show(r.type, r);
    window.vitalwire.rendered++;
  });
  live.subscribe([patient]);
  return panel;
}

async function visitPage(main, id) {
  const visit = await api('GET', `/api/v1/visits/${encodeURIComponent(id)}`);
  let patient = { id: visit.patient, name: visit.patient };
  try { patient = await api('GET', `/api/v1/patients/${encodeURIComponent(visit.patient)}`); } catch (e) { /* an interpreter sees no chart */ }
  const names = s => (s === visit.patient ? patient.name || s : s);
  const status = h('p', { role: 'status', id: 'call-status' }, visit.state === 'ended' ? 'This visit has ended.' : 'Starting your camera…');
  const local = h('video', { autoplay: true, playsinline: true, muted: true, id: 'local-video', 'aria-label': 'Your camera' });
  local.muted = true;
  const selfFig = h('figure', { class: 'video self' }, local, h('figcaption', {}, 'You'));
  const callBox = h('div', { class: 'call-box' });
  const remotes = h('div', { class: 'videos', id: 'remote-videos' });
  const people = h('p', { id: 'participants' });
  const note = h('textarea', { id: 'visit-note', rows: 4, cols: 40 });
  const err = h('p', { class: 'error', role: 'alert' });
  const out = h('div', { role: 'status' });
  const clinician = visit.you === 'clinician';
  // A clinician of another team invited to the call takes part in it; the
  // patient's care team reads the chart and writes the visit to it.
  const charts = clinician && visit.chart;
  const alertsList = h('ul', { class: 'alerts', id: 'visit-alerts' });
  const side = h('div', { class: 'visit-side' });
  main.replaceChildren(h('h1', {}, `Visit with ${names(visit.patient)}`), status,
    h('div', { class: 'visit' },
      h('div', {}, h('div', { class: 'videos' }, selfFig, remotes), callBox, people,
        clinician ? h('section', { class: 'panel', 'aria-labelledby': 'note-h' }, h('h2', { id: 'note-h' }, 'Visit'),
          ...(charts ? [h('label', { for: 'visit-note' }, 'Note for the chart', note),
            h('div', { class: 'actions' },
              h('button', { type: 'button', class: 'primary', id: 'end-visit', onclick: () => endVisit() }, 'End visit and attach to chart'),
              h('button', { type: 'button', id: 'attach-visit', onclick: () => attach() }, 'Attach to chart now'))]
            : [h('p', { id: 'guest-note' }, 'You take part in this call as an invited clinician. The patient\'s care team ends the visit and writes it to the chart.')]),
          formOf('Invite to this visit', [['subject', 'Person id'], ['role', 'Role', 'select', ['interpreter', 'clinician']]], 'Invite', async f => {
            const link = await api('POST', `/api/v1/visits/${encodeURIComponent(id)}/invite`, { subject: f.subject.value, role: f.role.value });
            return h('div', {}, h('p', {}, `Send this link to ${f.subject.value} (valid until ${timeText(link.expires)}):`), h('p', { class: 'secret' }, link.url));
          }), err, out) : null),
      side));
  if (charts) {
    side.append(await vitalsPanel(visit.patient, true, patient.spo2_scale),
      h('section', { class: 'panel', 'aria-labelledby': 'va-h' }, h('h2', { id: 'va-h' }, 'Alerts'), alertsList));
    const open = new Map();
    const draw = () => alertsList.replaceChildren(...(open.size ? [...open.values()].map(a => h('li', { 'data-alert': a.id }, severityBadge(a.severity), ' ', ruleText(a.rule), ` · ${a.value} · ${timeText(a.fired_at)} · ${a.state}`)) : [h('li', {}, 'No open alerts.')]));
    for (const a of await api('GET', `/api/v1/alerts?patient=${encodeURIComponent(visit.patient)}`)) open.set(a.id, a);
    draw();
    live.handlers.add(m => { if (m.type === 'alert' && m.patient === visit.patient) { if (m.alert.state === 'resolved') open.delete(m.alert.id); else open.set(m.alert.id, m.alert); draw(); } });
  }
  if (visit.state === 'ended') return;
  let call = null;
  const finish = (text) => {
    if (call) call.hangUp();
    const joinBtn = main.querySelector('#join-call');
    if (joinBtn) joinBtn.remove();
    status.textContent = text;
  };
  async function endVisit() {
    err.textContent = '';
    try {
      const enc = await api('POST', `/api/v1/visits/${encodeURIComponent(id)}/end`, { note: note.value });
      finish('The visit has ended and is attached to the chart.');
      out.replaceChildren(h('p', { id: 'encounter-done', 'data-encounter': enc.id }, `Encounter ${enc.id} attached with ${enc.summaries.length} vitals summarized.`));
    } catch (e) { err.textContent = e.message; }
  }
  async function attach() {
    err.textContent = '';
    try {
      const enc = await api('POST', `/api/v1/visits/${encodeURIComponent(id)}/attach`, { note: note.value });
      out.replaceChildren(h('p', {}, `Attached to the chart (Encounter ${enc.id}).`));
    } catch (e) { err.textContent = e.message; }
  }
  let stream;
  try { stream = await localMedia(); } catch (e) { status.textContent = 'Your camera or microphone is not available: ' + e.message; return; }
  local.srcObject = stream;
  onPageLeave(() => { for (const t of stream.getTracks()) t.stop(); });
  // Before joining: the preview, the device pickers, and a button to join.
  const devices = devicePickers(stream, remotes, e => { err.textContent = e; });
  const joinBtn = h('button', { type: 'button', class: 'primary', id: 'join-call' }, 'Join the call');
  status.textContent = 'Check your camera, microphone and speaker, then join the call.';
  callBox.append(devices.el, joinBtn);
  await new Promise(resolve => joinBtn.addEventListener('click', resolve, { once: true }));
  joinBtn.remove();
  status.textContent = 'Connecting…';
  call = inCall({
    visitId: id, stream, remotes, selfFig, names, self: me.subject, host: clinician, devices,
    handlers: {
      status: s => { status.textContent = s === 'connected' || s === 'completed' ? 'In the visit.' : s === 'reconnecting' ? 'Reconnecting…' : `Connection: ${s}`; },
      participants: ps => { people.textContent = 'In the visit: ' + ps.map(p => `${names(p.subject)} (${p.role})`).join(', '); },
      left: () => { status.textContent = 'You left the call; the visit goes on. Rejoin when ready.'; people.textContent = ''; },
      ended: () => finish('The visit has ended.'),
      error: e => { err.textContent = e; },
    },
  });
  call.history(visit.chat || []);
  callBox.prepend(call.banner, call.warning, call.controls);
  callBox.append(...(call.waitingRoom ? [call.waitingRoom] : []), call.chat);
  onPageLeave(() => call.hangUp());
}

// joinPage: the patient's way in, from the link the care team sent.
async function joinPage(main, params) {
  const visitId = params.get('visit');
  const code = params.get('code');
  // A patient's link signs them in; a guest's (an interpreter, a
  // colleague) is kept in this page only and used for the visit alone.
  let guestCode = null;
  if (code) {
    history.replaceState(null, '', location.pathname + `#/join?visit=${encodeURIComponent(visitId)}`);
    main.replaceChildren(h('p', {}, 'Opening your visit…'));
    try { me = await api('POST', `/api/v1/visits/${encodeURIComponent(visitId)}/session`, { code }); } catch (e) {
      if (e.status !== 403) {
        main.replaceChildren(h('h1', {}, 'Your visit'), h('p', { class: 'error', role: 'alert' }, e.message));
        return;
      }
      guestCode = code;
    }
    renderChrome();
  }
  if (!me && !guestCode) {
    try { me = await api('GET', '/api/v1/session'); } catch (e) { location.hash = '#/signin'; return; }
  }
  const visit = await api('GET', `/api/v1/visits/${encodeURIComponent(visitId)}${guestCode ? '?join=' + encodeURIComponent(guestCode) : ''}`);
  const self = me ? me.subject : visit.you;
  const check = h('p', { role: 'status', id: 'media-check' }, 'Checking your camera and microphone…');
  const preview = h('video', { autoplay: true, playsinline: true, muted: true, id: 'local-video', 'aria-label': 'Your camera' });
  preview.muted = true;
  const status = h('p', { role: 'status', id: 'call-status' });
  const remotes = h('div', { class: 'videos', id: 'remote-videos' });
  const selfFig = h('figure', { class: 'video self' }, preview, h('figcaption', {}, 'You'));
  const callBox = h('div', { class: 'call-box' });
  const joinBtn = h('button', { type: 'button', class: 'primary', id: 'join-visit', disabled: true }, 'Join the visit');
  const side = h('div', { class: 'visit-side' });
  main.replaceChildren(h('h1', {}, 'Your video visit'),
    h('div', { class: 'visit' },
      h('div', {}, h('div', { class: 'videos' }, selfFig, remotes), check, joinBtn, status, callBox),
      side));
  if (visit.you === 'patient') side.append(await vitalsPanel(visit.patient, false));
  if (visit.state === 'ended') { check.textContent = 'This visit has ended.'; return; }
  let stream;
  try {
    stream = await localMedia();
    preview.srcObject = stream;
    const a = stream.getAudioTracks().length; const v = stream.getVideoTracks().length;
    check.textContent = `Camera ${v ? 'working' : 'missing'}, microphone ${a ? 'working' : 'missing'}.`;
    joinBtn.disabled = false;
    onPageLeave(() => { if (!joinBtn.isConnected) return; for (const t of stream.getTracks()) t.stop(); });
  } catch (e) {
    check.textContent = 'We could not use your camera or microphone: ' + e.message + '. Allow them in your browser and reload.';
    return;
  }
  // Before joining: the preview and the device pickers.
  const devices = devicePickers(stream, remotes, e => { check.textContent = e; });
  joinBtn.before(devices.el);
  let waiting = false;
  joinBtn.addEventListener('click', () => {
    joinBtn.remove();
    status.textContent = 'Connecting…';
    const call = inCall({
      visitId, stream, joinCode: guestCode, remotes, selfFig, self, names: s => (s === self ? 'You' : s), devices,
      handlers: {
        status: s => { if (s === 'reconnecting') status.textContent = 'Reconnecting…'; },
        // Where the patient is: the waiting room until a clinician lets
        // them in (no one sees or hears them meanwhile), then the call.
        waiting: hostPresent => {
          waiting = true;
          callBox.classList.add('in-waiting-room');
          status.textContent = hostPresent
            ? 'You are in the waiting room. Your clinician is in the visit and will let you in shortly. No one can see or hear you yet.'
            : 'You are in the waiting room. Your clinician has not joined yet; please stay on this page and they will let you in. No one can see or hear you yet.';
        },
        admitted: () => { if (!waiting) return; waiting = false; callBox.classList.remove('in-waiting-room'); status.textContent = 'Your clinician let you in. Connecting…'; },
        participants: ps => {
          if (waiting) return;
          const clin = ps.filter(p => p.role === 'clinician');
          status.textContent = clin.length ? `In your visit with ${clin.map(p => p.subject).join(', ')}.` : 'Waiting room: your clinician will join shortly.';
        },
        left: () => { status.textContent = 'You left the call. Your visit goes on: rejoin when you are ready.'; },
        ended: () => { status.textContent = 'Your visit has ended. Thank you.'; call.hangUp(); },
        error: e => { status.textContent = e; },
      },
    });
    call.history(visit.chat || []);
    callBox.append(call.banner, call.warning, call.controls, call.chat);
    onPageLeave(() => call.hangUp());
  });
}
