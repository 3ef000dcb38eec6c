/* The kiosk touchscreen: draws the state the daemon pushes over /ws, posts the member's taps
   and the scans a keyboard-type reader types into the page. No framework, no network beyond
   the kiosk's own daemon. The one global is `lockerkey`, for looking inside from DevTools. */
"use strict";

window.lockerkey = (() => {
  const LANGS = ["ko", "en"];
  const SCAN_GAP_MS = 50; // a reader types each character within this of the previous one
  const SCAN_MIN = 2; // shorter bursts are stray key presses, not codes
  const SCAN_MAX = 64; // the longest code the kiosk accepts
  const FLASH_MS = 4000; // how long the page's own notices (a refused tap) stay
  const IDLE_LANG_MS = 60000; // a language chosen at idle by someone who walked away
  const BACKOFF_MS = [250, 500, 1000, 2000, 4000];
  const URGENT_S = 10;
  const GRID_PHASES = new Set(["choose_locker", "staff_menu"]);
  const KEY_PHASES = new Set(["take_key", "return_key"]);
  const STEP_PHASES = new Set([...GRID_PHASES, ...KEY_PHASES]);
  const STATE_ORDER = ["free", "rented", "key_missing", "abnormal", "out_of_service", "unknown"];

  const $ = (id) => document.getElementById(id);
  const ui = {
    phase: $("phase"),
    message: $("message"),
    langToggle: $("lang-toggle"),
    sections: [...document.querySelectorAll("[data-screens]")],
    tabs: $("zone-tabs"),
    grid: $("grid"),
    legend: $("legend"),
    pager: $("pager"),
    prev: $("page-prev"),
    next: $("page-next"),
    pageInfo: $("page-info"),
    bigLabel: $("big-label"),
    bigNumber: $("big-number"),
    keyHint: $("key-hint"),
    ringFill: $("ring-fill"),
    countdownBox: $("countdown-box"),
    countdownFill: $("countdown-fill"),
    countdown: $("countdown"),
    cancel: $("cancel"),
    flash: $("flash"),
    offline: $("offline"),
    offlineTitle: $("offline-title"),
    offlineHint: $("offline-hint"),
  };

  const view = {
    state: null,
    texts: { ko: {}, en: {} },
    override: null, // the member's language choice, until the next idle
    overrideFrom: null, // the phase it was chosen in
    idleLangTimer: null,
    zone: undefined, // the zone tab shown
    first: 0, // index (in the zone) of the first locker on the shown page
    countdown: { key: null, seconds: null, total: 0, base: 0 },
    localFlash: null,
    localFlashTimer: null,
    connected: false,
    attempt: 0,
    busy: false,
    sounds: 0,
  };

  // ---- texts ----------------------------------------------------------------------------

  const lang = () => view.override || (view.state && view.state.language) || "ko";

  function t(key, params = {}) {
    const table = view.texts[lang()] || {};
    const template = table[key] ?? view.texts.ko?.[key] ?? "";
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? params[name] : whole));
  }

  const pick = (messages, fallback) => (messages && messages[lang()]) || fallback || "";

  const zoneOf = (locker) => locker.zone ?? "";

  function zoneName(zone) {
    if (zone === "") return t("zone.none");
    return t(`zone.${zone.toLowerCase()}`) || zone;
  }

  async function loadTexts() {
    try {
      const answer = await fetch("/api/texts", { cache: "no-store" });
      if (!answer.ok) return;
      view.texts = await answer.json();
      render();
    } catch (err) {
      // The daemon is gone again: the socket's next reconnect asks once more.
    }
  }

  // ---- sound: short beeps synthesised on the spot, no audio files ------------------------

  const PATTERNS = {
    success: [[660, 0, 0.12, "sine"], [880, 0.14, 0.22, "sine"]],
    failure: [[330, 0, 0.18, "square"], [220, 0.24, 0.32, "square"]],
    attention: [[880, 0, 0.1, "sine"], [880, 0.17, 0.1, "sine"]],
  };
  let audio = null;

  function audioContext() {
    try {
      const Context = window.AudioContext || window.webkitAudioContext;
      audio = audio || (Context ? new Context() : null);
    } catch (err) {
      audio = null; // no audio device, or audio forbidden: the page stays silent
    }
    return audio;
  }

  function play(name) {
    view.sounds += 1;
    ui.phase.dataset.sound = name;
    ui.phase.dataset.sounds = String(view.sounds);
    try {
      const context = audioContext();
      if (!context) return;
      if (context.state !== "running") {
        // Held back by an autoplay policy: no beep now. Notes scheduled on a suspended
        // context would all play late, at once, when a tap finally lets it run.
        context.resume().catch(() => {});
        return;
      }
      const start = context.currentTime + 0.02;
      for (const [freq, at, length, type] of PATTERNS[name]) {
        const osc = context.createOscillator();
        const gain = context.createGain();
        osc.type = type;
        osc.frequency.value = freq;
        // A quick fade in and out: a bare square edge clicks in the speaker.
        gain.gain.setValueAtTime(0.0001, start + at);
        gain.gain.exponentialRampToValueAtTime(0.25, start + at + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + at + length);
        osc.connect(gain).connect(context.destination);
        osc.start(start + at);
        osc.stop(start + at + length + 0.02);
      }
    } catch (err) {
      // Whatever the audio stack says: the screen still says it all.
    }
  }

  function cue(prev, next) {
    if (!prev) return; // the first state after loading the page: nothing just happened
    if (next.phase !== prev.phase) {
      if (next.phase === "success") play("success");
      else if (next.phase === "failure") play("failure");
      else if (KEY_PHASES.has(next.phase)) play("attention");
    }
    const flash = next.flash;
    const before = prev.flash;
    if (flash && flash.level !== "info" && (!before || before.message !== flash.message)) {
      play(flash.level === "success" ? "success" : "failure");
    }
  }

  // ---- the state ------------------------------------------------------------------------

  function applyState(next) {
    const prev = view.state;
    const before = prev ? prev.phase : null;
    if (before !== next.phase) {
      // The next member starts in the default language: at idle, or when a new session
      // starts while the last one's result shows (unless the toggle was pressed there).
      const result = before === "success" || before === "failure";
      if (
        (before && before !== "idle" && next.phase === "idle") ||
        (result && STEP_PHASES.has(next.phase) && view.overrideFrom !== before)
      ) {
        view.override = null;
      }
      view.zone = undefined;
      view.first = 0;
      clearLocalFlash();
    }
    view.state = next;
    armCountdown(next);
    cue(prev, next);
    render();
  }

  function armCountdown(s) {
    let seconds = null;
    let key = null;
    if (s.seconds_left != null) {
      seconds = s.seconds_left;
      key = `deadline ${s.deadline}`;
    } else if (s.until) {
      // Both times are the server's: only their difference counts, not this machine's clock.
      const left = (Date.parse(s.until) - Date.parse(s.now)) / 1000;
      if (Number.isFinite(left)) {
        seconds = Math.max(0, left);
        key = `until ${s.until}`;
      }
    }
    const c = view.countdown;
    if (key !== c.key) c.total = seconds || 0;
    c.key = key;
    c.seconds = seconds;
    c.base = performance.now();
  }

  // ---- drawing ----------------------------------------------------------------------------

  function render() {
    const s = view.state;
    const phase = s ? s.phase : "loading";
    const current = lang();
    const other = LANGS.find((code) => code !== current);
    document.documentElement.lang = current;
    ui.phase.dataset.phase = phase;
    ui.phase.dataset.level = s ? s.level : "info";
    ui.phase.dataset.lang = current;
    ui.phase.dataset.seq = s ? String(s.seq) : "";
    ui.phase.dataset.connected = String(view.connected);
    ui.message.textContent = s ? pick(s.messages, s.message) : "";
    ui.langToggle.textContent = view.texts[other]?.language_name || other;
    ui.langToggle.lang = other;
    ui.langToggle.dataset.lang = other;
    for (const section of ui.sections) {
      const shown = section.dataset.screens.split(" ").includes(phase);
      section.hidden = !shown;
    }
    ui.cancel.hidden = !STEP_PHASES.has(phase);
    ui.cancel.textContent = t(phase === "staff_menu" ? "close" : "cancel");
    ui.pager.hidden = true;
    renderFlash(); // first: a long notice takes room the grid then measures without
    if (GRID_PHASES.has(phase)) renderGrid(s);
    if (KEY_PHASES.has(phase)) renderKey(s);
    ui.offline.hidden = view.connected;
    ui.offlineTitle.textContent = t("connection_lost");
    ui.offlineHint.textContent = t("connection_lost_hint");
    tick();
    // Tests wait for this to know the page has been laid out for the current viewport.
    document.body.dataset.viewport = `${window.innerWidth}x${window.innerHeight}`;
  }

  function renderGrid(s) {
    const staff = s.phase === "staff_menu";
    const lockers = s.lockers || [];
    const zones = [...new Set(lockers.map(zoneOf))];
    if (!zones.includes(view.zone)) {
      view.zone = zones.find((z) => lockers.some((k) => zoneOf(k) === z && k.enabled)) ?? zones[0];
      view.first = 0;
    }
    ui.tabs.replaceChildren(
      ...(zones.length > 1 ? zones.map((zone) => zoneTab(zone, lockers, staff)) : []),
    );
    ui.legend.replaceChildren(...(staff ? legendItems(lockers) : []));

    const shown = lockers.filter((k) => zoneOf(k) === view.zone);
    ui.grid.replaceChildren();
    const { cols, rows, width, height } = gridShape(shown.length);
    const perPage = cols * rows;
    const pages = Math.max(1, Math.ceil(shown.length / perPage));
    const page = Math.min(pages - 1, Math.floor(view.first / perPage));
    view.first = page * perPage;
    ui.grid.style.gridTemplateColumns = `repeat(${cols}, ${width}px)`;
    ui.grid.style.gridTemplateRows = `repeat(${rows}, ${height}px)`;
    ui.grid.dataset.cols = String(cols);
    ui.grid.dataset.rows = String(rows);
    if (shown.length === 0) {
      const empty = document.createElement("p");
      empty.className = "empty-zone";
      empty.textContent = t("no_lockers");
      ui.grid.append(empty);
    }
    for (const locker of shown.slice(view.first, view.first + perPage)) {
      ui.grid.append(lockerButton(locker, staff));
    }
    ui.pager.hidden = pages <= 1;
    ui.prev.textContent = `◀ ${t("page_prev")}`;
    ui.next.textContent = `${t("page_next")} ▶`;
    ui.prev.disabled = page === 0;
    ui.next.disabled = page >= pages - 1;
    ui.pageInfo.textContent = t("page_of", { page: page + 1, pages });
    ui.pageInfo.dataset.page = String(page + 1);
    ui.pageInfo.dataset.pages = String(pages);
  }

  // Columns, rows and button size for `count` lockers in the room the grid has now: every
  // button at least --touch high; a zone that fits on one page gets the biggest buttons that
  // show it whole, up to a limit.
  function gridShape(count) {
    const gap = parseFloat(getComputedStyle(ui.grid).rowGap) || 0;
    const room = { w: ui.grid.clientWidth, h: ui.grid.clientHeight };
    const touch = Math.max(64, Math.min(window.innerWidth, window.innerHeight) * 0.11);
    const size = (cols, rows) => ({
      cols,
      rows,
      width: Math.floor(Math.min((room.w - gap * (cols - 1)) / cols, touch * 4)),
      height: Math.floor(Math.min((room.h - gap * (rows - 1)) / rows, touch * 2.5)),
    });
    const maxCols = Math.max(1, Math.floor((room.w + gap) / (touch * 1.3 + gap)));
    const maxRows = Math.max(1, Math.floor((room.h + gap) / (touch + gap)));
    let best = size(maxCols, maxRows);
    if (count === 0 || count >= maxCols * maxRows) return best;
    let score = 0;
    for (let rows = 1; rows <= maxRows; rows += 1) {
      const cols = Math.ceil(count / rows);
      if (cols > maxCols) continue;
      const shape = size(cols, rows);
      const scale = Math.min(shape.width / 1.3, shape.height);
      if (scale > score + 0.5) {
        score = scale;
        best = shape;
      }
    }
    return best;
  }

  function zoneTab(zone, lockers, staff) {
    const tab = document.createElement("button");
    tab.type = "button";
    tab.className = "zone-tab";
    tab.setAttribute("role", "tab");
    tab.dataset.zone = zone;
    tab.setAttribute("aria-selected", String(zone === view.zone));
    tab.append(zoneName(zone));
    if (!staff) {
      // How many of the zone's lockers this member may take.
      const count = document.createElement("span");
      count.className = "count";
      count.textContent = `(${lockers.filter((k) => zoneOf(k) === zone && k.enabled).length})`;
      tab.append(count);
    }
    return tab;
  }

  function legendItems(lockers) {
    const present = new Set(lockers.map((k) => k.state));
    return STATE_ORDER.filter((st) => present.has(st)).map((st) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.dataset.state = st;
      item.append(swatch, t(`state.${st}`));
      return item;
    });
  }

  function lockerButton(locker, staff) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "locker-button";
    button.dataset.locker = locker.number;
    button.dataset.zone = zoneOf(locker);
    button.dataset.state = locker.state;
    button.disabled = !locker.enabled;
    button.textContent = locker.number;
    const name = t("locker_number", { locker: locker.number });
    button.setAttribute("aria-label", staff ? `${name} ${t(`state.${locker.state}`)}` : name);
    return button;
  }

  function renderKey(s) {
    const number = s.locker ?? "";
    ui.bigLabel.textContent = number ? t(s.phase === "return_key" ? "slot" : "locker") : "";
    // No number (a shared door: take any key): the ring's middle shows the seconds instead.
    ui.bigNumber.dataset.timer = String(!number);
    ui.bigNumber.textContent = number;
    ui.bigNumber.style.setProperty("--len", String(Math.max(1, number.length)));
    ui.keyHint.textContent = t(s.phase === "return_key" ? "return_key_hint" : "take_key_hint");
  }

  function renderFlash() {
    const s = view.state;
    const local = view.localFlash;
    const flash = local || (s && STEP_PHASES.has(s.phase) ? s.flash : null);
    const text = flash ? pick(flash.messages, flash.message) : "";
    ui.flash.hidden = !text;
    ui.flash.textContent = text;
    ui.flash.dataset.level = flash ? flash.level : "";
    ui.flash.dataset.source = local ? "page" : "kiosk";
  }

  // The countdowns run on this machine's monotonic clock from the server's seconds_left.
  function tick() {
    const c = view.countdown;
    const s = view.state;
    const running = c.seconds != null && s;
    ui.countdownBox.hidden = !running;
    if (!running) return;
    const left = Math.max(0, c.seconds - (performance.now() - c.base) / 1000);
    const whole = Math.ceil(left);
    const share = c.total > 0 ? Math.min(1, left / c.total) : 0;
    const result = s.phase === "success" || s.phase === "failure";
    const text = t(result ? "back_to_start" : "seconds_left", { seconds: whole });
    if (ui.countdown.textContent !== text) ui.countdown.textContent = text;
    ui.countdown.dataset.seconds = String(whole);
    ui.countdownFill.style.width = `${(share * 100).toFixed(1)}%`;
    ui.ringFill.style.strokeDashoffset = String((100 * (1 - share)).toFixed(1));
    ui.phase.dataset.urgent = String(!result && left <= URGENT_S);
    if (ui.bigNumber.dataset.timer === "true") ui.bigNumber.textContent = String(whole);
  }

  // ---- the page's own notices -------------------------------------------------------------

  function showLocalFlash(answer) {
    if (!answer || !(answer.messages || answer.message)) return;
    clearLocalFlash();
    view.localFlash = { messages: answer.messages, message: answer.message, level: "error" };
    view.localFlashTimer = setTimeout(() => {
      clearLocalFlash();
      render();
    }, FLASH_MS);
    play("failure");
    render();
  }

  function clearLocalFlash() {
    clearTimeout(view.localFlashTimer);
    view.localFlash = null;
  }

  // ---- actions -----------------------------------------------------------------------------

  async function post(path, body) {
    try {
      const answer = await fetch(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body || {}),
      });
      let data = null;
      try {
        data = await answer.json();
      } catch (err) {
        data = null;
      }
      return { status: answer.status, data };
    } catch (err) {
      return { status: 0, data: null }; // offline: the overlay already says so
    }
  }

  function adopt(data) {
    // A reply's state may be newer than the socket's last push; never go back to an older one.
    const next = data && data.state;
    if (next && (!view.state || next.seq > view.state.seq)) applyState(next);
  }

  async function select(number) {
    if (view.busy) return; // one tap at a time: a double tap must not choose twice
    view.busy = true;
    try {
      const { status, data } = await post("/api/select", { locker: number });
      if (status === 200) adopt(data);
      else showLocalFlash(data);
    } finally {
      view.busy = false;
    }
  }

  async function cancel() {
    const { status, data } = await post("/api/cancel");
    // A refused cancel means the step already ended; the socket shows how.
    if (status === 200) adopt(data);
  }

  async function scan(code) {
    const { status, data } = await post("/api/scan", { code });
    if (status !== 202) showLocalFlash(data);
  }

  // ---- a keyboard-type reader: fast keystrokes ending in Enter are a scan -----------------

  const wedge = { buffer: "", last: -Infinity, spoiled: false };

  function typed(ev) {
    const key = ev.key;
    if (key.length === 1 && key >= " " && key <= "~") return key;
    // A Korean input mode turns a reader's letters into Hangul: read the physical key instead.
    const code = ev.code || "";
    if (/^Key[A-Z]$/.test(code)) return ev.shiftKey ? code[3] : code[3].toLowerCase();
    if (/^Digit[0-9]$/.test(code) && !ev.shiftKey) return code[5];
    return null;
  }

  function onKey(ev) {
    // Not isComposing: a Korean input mode composes a reader's keys, which typed() reads.
    if (ev.ctrlKey || ev.altKey || ev.metaKey || ev.repeat) {
      wedge.buffer = "";
      wedge.spoiled = true;
      return;
    }
    if (ev.key === "Shift" || ev.key === "CapsLock") return; // readers shift for capitals
    const fast = ev.timeStamp - wedge.last <= SCAN_GAP_MS;
    if (ev.key === "Enter") {
      const code = wedge.buffer;
      const good = fast && !wedge.spoiled && code.length >= SCAN_MIN;
      wedge.buffer = "";
      wedge.spoiled = false;
      wedge.last = -Infinity;
      // How the last Enter was taken, for tests and for finding out why a reader is ignored.
      ui.phase.dataset.reader = good ? "scan" : "ignored";
      if (good) {
        ev.preventDefault(); // not also a press of the focused button
        scan(code);
      }
      return;
    }
    const char = typed(ev);
    if (char === null) {
      wedge.buffer = "";
      wedge.spoiled = true;
      return;
    }
    if (!fast) {
      // A pause: whatever came before was a person, or a finished burst.
      wedge.buffer = "";
      wedge.spoiled = false;
    }
    if (wedge.buffer.length >= SCAN_MAX) wedge.spoiled = true;
    else wedge.buffer += char;
    wedge.last = ev.timeStamp;
    if (fast) ev.preventDefault(); // a reader's space must not press the focused button
  }

  // ---- the link to the daemon ---------------------------------------------------------------

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    let socket;
    try {
      socket = new WebSocket(`${scheme}://${window.location.host}/ws`);
    } catch (err) {
      retry();
      return;
    }
    socket.onopen = () => {
      view.connected = true;
      view.attempt = 0;
      loadTexts(); // at every (re)connect: a restarted daemon may be a newer version
      render();
    };
    socket.onmessage = (ev) => {
      let next;
      try {
        next = JSON.parse(ev.data);
      } catch (err) {
        return;
      }
      applyState(next);
    };
    socket.onclose = () => {
      view.connected = false;
      render();
      retry();
    };
  }

  function retry() {
    const delay = BACKOFF_MS[Math.min(view.attempt, BACKOFF_MS.length - 1)];
    view.attempt += 1;
    setTimeout(connect, delay);
  }

  // ---- wiring ------------------------------------------------------------------------------

  function toggleLanguage() {
    view.override = LANGS.find((code) => code !== lang());
    view.overrideFrom = view.state ? view.state.phase : null;
    clearTimeout(view.idleLangTimer);
    if (view.state && view.state.phase === "idle") {
      view.idleLangTimer = setTimeout(() => {
        if (view.state && view.state.phase === "idle") view.override = null;
        render();
      }, IDLE_LANG_MS);
    }
    render();
  }

  function page(step) {
    const per = Number(ui.grid.dataset.cols) * Number(ui.grid.dataset.rows);
    view.first = Math.max(0, view.first + step * per);
    render();
  }

  // A touched button keeps focus; blur it so a reader's Enter cannot press it later.
  const tapped = (handler) => (ev) => {
    ev.currentTarget.blur?.();
    handler(ev);
  };

  ui.langToggle.addEventListener("click", tapped(toggleLanguage));
  ui.cancel.addEventListener("click", tapped(cancel));
  ui.prev.addEventListener("click", tapped(() => page(-1)));
  ui.next.addEventListener("click", tapped(() => page(1)));
  ui.tabs.addEventListener("click", (ev) => {
    const tab = ev.target.closest(".zone-tab");
    if (!tab) return;
    view.zone = tab.dataset.zone;
    view.first = 0;
    render();
  });
  ui.grid.addEventListener("click", (ev) => {
    const button = ev.target.closest(".locker-button");
    if (!button || button.disabled) return;
    button.blur();
    select(button.dataset.locker);
  });
  document.addEventListener("keydown", onKey, true);
  // A long press on a touchscreen opens the context menu: nothing in it is for members.
  document.addEventListener("contextmenu", (ev) => ev.preventDefault());
  // Where autoplay is not allowed, the first touch lets the sound start.
  document.addEventListener(
    "pointerdown",
    () => {
      if (audio && audio.state === "suspended") audio.resume().catch(() => {});
    },
    true,
  );
  window.addEventListener("resize", render);
  setInterval(tick, 250);

  render();
  audioContext(); // made early, so it is running by the first beep where autoplay is allowed
  connect();

  return { view, render, play };
})();
