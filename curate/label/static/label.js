// The labelling page: one item at a time from /api/next, answered with the mouse or the keys
// 1..9 (compare: 1, 2, T for a tie), S to skip, U to undo; rank with the arrows beside each answer.
"use strict";
let current = null;
let busy = false;  // a request in flight: keys wait for it (no double answers from a quick double press)
let rankOrder = [];
let scores = {};

function showStatus(text) { document.getElementById("status").textContent = text; }

function renderMessages(messages) {
  const box = document.getElementById("conversation");
  box.replaceChildren();
  for (const message of messages) {
    const turn = element("div", "turn " + message.role);
    turn.appendChild(element("div", "role", message.role));
    const body = element("div", "content");
    body.innerHTML = message.html;  // sanitised on the server (render.py); the CSP runs no inline script
    turn.appendChild(body);
    box.appendChild(turn);
  }
}

function candidateBox(candidate, index) {
  const box = element("article", "candidate");
  box.dataset.key = candidate.key;
  box.appendChild(element("h3", "", "Answer " + (index + 1)));
  const body = element("div", "content");
  body.innerHTML = candidate.html;
  box.appendChild(body);
  return box;
}

function renderCandidates() {
  const box = document.getElementById("candidates");
  box.replaceChildren();
  const keys = session.task === "rank" ? rankOrder : current.candidates.map(c => c.key);
  keys.forEach((key, index) => {
    const candidate = current.candidates.find(c => c.key === key);
    const node = candidateBox(candidate, index);
    if (session.task === "rank") {
      const up = element("button", "move", "▲"); up.title = "Move up";
      const down = element("button", "move", "▼"); down.title = "Move down";
      up.onclick = () => move(index, -1); down.onclick = () => move(index, 1);
      node.querySelector("h3").textContent = "Rank " + (index + 1);
      node.prepend(up, down);
    }
    if (session.task === "rate") {
      const row = element("div", "scale");
      for (let score = 1; score <= 5; score++) {
        const button = element("button", scores[key] === score ? "chosen" : "", String(score));
        button.onclick = () => { scores[key] = score; renderCandidates(); };
        row.appendChild(button);
      }
      node.appendChild(row);
    }
    box.appendChild(node);
  });
}

function move(index, step) {
  const other = index + step;
  if (other < 0 || other >= rankOrder.length) return;
  [rankOrder[index], rankOrder[other]] = [rankOrder[other], rankOrder[index]];
  renderCandidates();
}

function renderControls() {
  const box = document.getElementById("controls");
  box.replaceChildren();
  const add = (label, action, id) => { const b = element("button", "", label); if (id) b.id = id; b.onclick = action; box.appendChild(b); return b; };
  if (session.task === "compare") {
    current.candidates.forEach((c, i) => add("Answer " + (i + 1) + " is better (" + (i + 1) + ")", () => send({ choice: c.key }), "choose-" + (i + 1)));
    add("Tie (T)", () => send({ choice: "tie" }), "tie");
  } else if (session.task === "rank") {
    add("Submit ranking (Enter)", () => send({ order: rankOrder }), "submit");
  } else if (session.task === "rate") {
    add("Submit scores (Enter)", () => {
      if (Object.keys(scores).length !== current.candidates.length) { showStatus("Rate every answer first."); return; }
      send({ scores });
    }, "submit");
  } else {
    const text = element("textarea", "answer"); text.id = "answer-text"; text.rows = 12;
    text.value = current.draft || "";
    box.appendChild(text);
    add("Submit answer (Ctrl+Enter)", () => send({ text: text.value }), "submit");
  }
  add("Skip (S)", skip, "skip");
}

async function load() {
  try {
    current = await api("GET", "/api/next");
  } catch (error) { showStatus(error.message); return; }
  if (current === null) {
    document.getElementById("conversation").replaceChildren(element("p", "done", "All done: no item is waiting for you. Thank you!"));
    document.getElementById("candidates").replaceChildren();
    document.getElementById("controls").replaceChildren();
    return refreshProgress();
  }
  rankOrder = current.candidates.map(c => c.key);
  scores = {};
  renderMessages(current.messages);
  renderCandidates();
  renderControls();
  updateProgress(current.progress);
}

function updateProgress(progress) {
  const wanted = Math.ceil(progress.answers_wanted / Math.max(1, progress.overlap));
  setProgress(progress.answered + progress.skipped, wanted);
  document.getElementById("progress-text").textContent = progress.answered + " answered, " + progress.skipped + " skipped";
}

async function refreshProgress() { updateProgress(await api("GET", "/api/progress")); }

async function once(action) {
  if (busy) return;
  busy = true;
  try { if (await action()) await load(); } finally { busy = false; }
}

function send(answer) {
  return once(async () => {
    if (!current) return false;
    try {
      await api("POST", "/api/answer", Object.assign({ item_id: current.item_id }, answer));
      showStatus("Saved.");
      return true;
    } catch (error) { showStatus("Not saved: " + error.message); return false; }
  });
}

function skip() {
  return once(async () => {
    if (!current) return false;
    try { await api("POST", "/api/skip", { item_id: current.item_id }); showStatus("Skipped."); return true; }
    catch (error) { showStatus(error.message); return false; }
  });
}

function undo() {
  return once(async () => {
    try {
      const result = await api("POST", "/api/undo", {});
      showStatus(result.undone === null ? "Nothing to undo." : "Your last answer was taken back.");
      return true;
    } catch (error) { showStatus(error.message); return false; }
  });
}

document.addEventListener("keydown", event => {
  const submitText = event.ctrlKey && event.key === "Enter";
  if (!current || event.repeat || busy) return;  // a held key answers once
  if ((event.ctrlKey || event.metaKey || event.altKey) && !submitText) return;  // Ctrl+S, Ctrl+U... are the browser's
  if (event.target.tagName === "TEXTAREA" && !submitText) return;
  const key = event.key.toLowerCase();
  if (session.task === "compare" && /^[1-9]$/.test(key) && Number(key) <= current.candidates.length) send({ choice: current.candidates[Number(key) - 1].key });
  else if (session.task === "compare" && key === "t") send({ choice: "tie" });
  else if (key === "s" && event.target.tagName !== "TEXTAREA") skip();
  else if (key === "u" && event.target.tagName !== "TEXTAREA") undo();
  else if (key === "enter" && session.task !== "compare") document.getElementById("submit").click();
});

window.addEventListener("DOMContentLoaded", async () => {
  try {
    const me = await startSession();
    document.getElementById("guidelines").innerHTML = me.guidelines_html;
  } catch (error) { showStatus(error.message); return; }
  document.getElementById("undo").onclick = undo;
  load();
});
