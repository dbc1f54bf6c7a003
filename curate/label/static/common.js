// Shared by the pages: the session (name, CSRF token) and JSON requests. Data from items is
// only ever put in the page as text, or as the sanitised HTML the server made (`html` fields).
"use strict";
const session = { csrf: "", task: "" };

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET") { headers["Content-Type"] = "application/json"; headers["X-CSRF-Token"] = session.csrf; }
  const response = await fetch(path, { method, headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
  return data;
}

async function startSession() {
  const me = await api("GET", "/api/me");
  session.csrf = me.csrf; session.task = me.task;
  document.getElementById("who").textContent = me.name + (me.admin ? " (admin)" : "");
  return me;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setProgress(done, wanted) {
  const share = wanted ? Math.min(100, Math.round(100 * done / wanted)) : 100;
  document.getElementById("bar-fill").style.width = share + "%";
}
