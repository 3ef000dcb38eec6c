// The demo's simulator panel: draws the simulated cabinets from GET /sim/api/state (polled
// every 300 ms) and acts as a hand at them through POST /sim/api/take|insert|door, plus the
// scan box (POST /sim/api/scan) and the pretend member toggle (POST /sim/api/auto).
"use strict";

const POLL_MS = 300;
const LONG_PRESS_MS = 600; // a long press forces a key out of a locked slot (touch screens)

const TEXTS = {
  ko: {
    title: "락카키 대여기 시뮬레이터",
    other_lang: "English",
    live: "● 연결됨",
    offline: "● 연결 끊김",
    scanner: "스캐너",
    scan: "스캔",
    scan_placeholder: "회원카드 또는 키 태그 코드",
    members: "회원카드",
    tags: "키 태그",
    cabinet: "캐비닛",
    auto: "가상 회원 자동 (열리면 키를 가져가거나 넣음)",
    hint: "칸을 누르면 키를 빼거나 넣습니다. 잠긴 칸에서 강제로 빼려면 Shift+클릭 또는 길게 누르세요.",
    legend_locked: "키 있음 · 잠김",
    legend_open: "키 있음 · 열림",
    legend_empty: "키 없음",
    locked: "잠김",
    open: "열림",
    door: "공용 문",
    door_open: "열림",
    door_closed: "닫힘",
    door_locked: "잠김",
    door_unlocked: "잠금 해제",
    open_door: "문 열기",
    close_door: "문 닫기",
    scanned: (code) => `${code} 스캔했습니다`,
    took: (slot, forced) => (forced ? `${slot}번 칸의 키를 강제로 뺐습니다` : `${slot}번 칸의 키를 가져갔습니다`),
    inserted: (slot) => `${slot}번 칸에 키를 넣었습니다`,
    opened: "문을 열었습니다",
    closed: "문을 닫았습니다",
    auto_on: "가상 회원: 켜짐",
    auto_off: "가상 회원: 꺼짐",
    failed: "요청이 실패했습니다",
  },
  en: {
    title: "Locker-key kiosk simulator",
    other_lang: "한국어",
    live: "● live",
    offline: "● offline",
    scanner: "Scanner",
    scan: "Scan",
    scan_placeholder: "member card or key tag code",
    members: "Member cards",
    tags: "Key tags",
    cabinet: "Cabinet",
    auto: "Auto member (takes or returns the key after an unlock)",
    hint: "Click a slot to take its key or put one back. Shift+click or long-press forces a key out of a locked slot.",
    legend_locked: "key in · locked",
    legend_open: "key in · unlocked",
    legend_empty: "no key",
    locked: "locked",
    open: "open",
    door: "Shared door",
    door_open: "open",
    door_closed: "closed",
    door_locked: "locked",
    door_unlocked: "unlocked",
    open_door: "Open door",
    close_door: "Close door",
    scanned: (code) => `Scanned ${code}`,
    took: (slot, forced) => (forced ? `Forced the key out of slot ${slot}` : `Took the key of slot ${slot}`),
    inserted: (slot) => `Put a key into slot ${slot}`,
    opened: "Opened the door",
    closed: "Closed the door",
    auto_on: "Auto member: on",
    auto_off: "Auto member: off",
    failed: "The request failed",
  },
};

const root = document.getElementById("sim");
let lang = localStorage.getItem("lockerkey.sim.lang") === "en" ? "en" : "ko";
let state = null;
let codesLang = null; // the language the code buttons were drawn in
let lastMessage = null; // {texts: {ko, en}} or {key, args}, redrawn on a language change

function t(key, ...args) {
  const text = TEXTS[lang][key];
  return typeof text === "function" ? text(...args) : text;
}

function applyLanguage() {
  root.dataset.lang = lang;
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of document.querySelectorAll("[data-t-placeholder]")) {
    el.placeholder = t(el.dataset.tPlaceholder);
  }
  document.getElementById("live").textContent = t(root.dataset.live === "true" ? "live" : "offline");
  if (state) render(state);
  showMessage(lastMessage, lastMessage ? lastMessage.level : "info");
}

function showMessage(message, level) {
  lastMessage = message ? { ...message, level } : null;
  const box = document.getElementById("message");
  box.dataset.level = level;
  if (!message) box.textContent = "";
  else if (message.texts) box.textContent = message.texts[lang] || message.texts.en;
  else box.textContent = t(message.key, ...(message.args || []));
}

async function post(path, body) {
  try {
    const answer = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await answer.json();
    if (!data.ok) {
      showMessage({ texts: data.message || { ko: t("failed"), en: t("failed") } }, "error");
      return null;
    }
    if (data.state) render(data.state);
    return data;
  } catch (err) {
    showMessage({ key: "failed" }, "error");
    return null;
  }
}

async function scan(code) {
  code = code.trim();
  if (!code) return;
  if (await post("/sim/api/scan", { code })) showMessage({ key: "scanned", args: [code] }, "info");
}

async function take(cabinet, slot, force) {
  if (await post("/sim/api/take", { cabinet, slot, force })) {
    showMessage({ key: "took", args: [slot, force] }, "info");
  }
}

async function insert(cabinet, slot) {
  if (await post("/sim/api/insert", { cabinet, slot })) {
    showMessage({ key: "inserted", args: [slot] }, "info");
  }
}

async function door(cabinet, open, force) {
  if (await post("/sim/api/door", { cabinet, open, force })) {
    showMessage({ key: open ? "opened" : "closed" }, "info");
  }
}

// A click acts at once; a long press (or Shift/Alt/Ctrl+click) is the forced variant.
function pressable(el, act) {
  let timer = null;
  let longDone = false;
  el.addEventListener("pointerdown", () => {
    longDone = false;
    timer = setTimeout(() => { longDone = true; act(true); }, LONG_PRESS_MS);
  });
  const cancel = () => { clearTimeout(timer); timer = null; };
  el.addEventListener("pointerup", cancel);
  el.addEventListener("pointerleave", cancel);
  el.addEventListener("contextmenu", (event) => event.preventDefault());
  el.addEventListener("click", (event) => {
    cancel();
    if (longDone) { longDone = false; return; }
    act(event.shiftKey || event.altKey || event.ctrlKey || event.metaKey);
  });
}

function codeButton(code, note) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "code";
  button.dataset.code = code;
  button.textContent = code;
  if (note) {
    const small = document.createElement("small");
    small.textContent = note;
    button.append(small);
  }
  button.addEventListener("click", () => scan(code));
  return button;
}

function drawCodes(data) {
  const cards = document.getElementById("cards");
  cards.replaceChildren(
    ...data.cards.map((c) => codeButton(c.code, [c.name, c.note[lang]].filter(Boolean).join(" · ")))
  );
  const tags = document.getElementById("tags");
  tags.replaceChildren(
    ...data.cabinets.flatMap((cab) => cab.slots.map((s) => codeButton(s.tag, "")))
  );
}

function cabinetBox(cab) {
  const box = document.createElement("div");
  box.className = "cabinet";
  box.dataset.cabinet = cab.index;
  box.dataset.kind = cab.kind;
  const title = document.createElement("h3");
  box.append(title);
  if (cab.door) {
    const row = document.createElement("div");
    row.className = "door";
    const label = document.createElement("span");
    label.className = "door-state";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "door-toggle";
    button.dataset.cabinet = cab.index;
    pressable(button, (force) => {
      const current = state.cabinets[cab.index].door;
      door(cab.index, !current.open, force);
    });
    row.append(label, button);
    box.append(row);
  }
  const slots = document.createElement("div");
  slots.className = "slots";
  for (const s of cab.slots) {
    const el = document.createElement("button");
    el.type = "button";
    el.className = "slot";
    el.dataset.cabinet = cab.index;
    el.dataset.slot = s.slot;
    el.dataset.locker = s.locker;
    el.innerHTML = '<span class="num"></span><span class="key"></span><span class="lock"></span>';
    el.querySelector(".num").textContent = s.locker;
    pressable(el, (force) => {
      const now = state.cabinets[cab.index].slots[s.slot - 1];
      if (now.key) take(cab.index, s.slot, force);
      else insert(cab.index, s.slot);
    });
    slots.append(el);
  }
  box.append(slots);
  return box;
}

function render(data) {
  const first = state === null || state.cabinets.length !== data.cabinets.length;
  state = data;
  const holder = document.getElementById("cabinets");
  if (first) {
    holder.replaceChildren(...data.cabinets.map(cabinetBox));
  }
  // Redrawn only when they change: a button replaced mid-click would lose the click.
  if (first || codesLang !== lang) {
    drawCodes(data);
    codesLang = lang;
  }
  document.getElementById("auto").checked = data.auto;
  for (const cab of data.cabinets) {
    const box = holder.querySelector(`.cabinet[data-cabinet="${cab.index}"]`);
    const kind = cab.kind === "shared_door" ? (lang === "ko" ? "공용 문" : "shared door") : (lang === "ko" ? "칸마다 잠금" : "a lock per slot");
    box.querySelector("h3").textContent = `${cab.name} · ${kind}`;
    if (cab.door) {
      box.dataset.door = cab.door.open ? "open" : "closed";
      box.dataset.doorLock = cab.door.locked ? "locked" : "open";
      box.querySelector(".door-state").textContent =
        `${t("door")}: ${t(cab.door.open ? "door_open" : "door_closed")}, ` +
        `${t(cab.door.locked ? "door_locked" : "door_unlocked")}`;
      box.querySelector(".door-toggle").textContent = t(cab.door.open ? "close_door" : "open_door");
    }
    for (const s of cab.slots) {
      const el = box.querySelector(`.slot[data-slot="${s.slot}"]`);
      el.dataset.key = s.key ? "in" : "out";
      el.dataset.lock = s.locked ? "locked" : "open";
      el.dataset.reachable = String(s.reachable);
      el.querySelector(".lock").textContent = t(s.locked ? "locked" : "open");
      el.title = `${s.tag}`;
    }
  }
}

let seq = 0;
async function poll() {
  try {
    const answer = await fetch("/sim/api/state", { cache: "no-store" });
    if (!answer.ok) throw new Error(String(answer.status));
    render(await answer.json());
    root.dataset.live = "true";
    root.dataset.seq = String(++seq);
  } catch (err) {
    root.dataset.live = "false";
  }
  document.getElementById("live").textContent = t(root.dataset.live === "true" ? "live" : "offline");
  setTimeout(poll, POLL_MS);
}

document.getElementById("lang").addEventListener("click", () => {
  lang = lang === "ko" ? "en" : "ko";
  localStorage.setItem("lockerkey.sim.lang", lang);
  applyLanguage();
});
document.getElementById("scan-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("scan-code");
  scan(input.value).then(() => { input.value = ""; input.focus(); });
});
document.getElementById("auto").addEventListener("change", async (event) => {
  const on = event.target.checked;
  if (await post("/sim/api/auto", { on })) showMessage({ key: on ? "auto_on" : "auto_off" }, "info");
});

applyLanguage();
poll();
