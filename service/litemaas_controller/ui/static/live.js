// The order page's live tasks: the order's server-sent events, appended as rows.
// Every value goes in as text (textContent), never as markup.
"use strict";
(function () {
  const live = document.getElementById("live");
  const tasks = document.getElementById("tasks");
  const runs = document.getElementById("runs");
  if (!live || !window.EventSource) return;
  const ENDED = new Set(JSON.parse(live.dataset.ended));
  const FAILED = new Set(JSON.parse(live.dataset.failed));
  const attempts = {};
  runs.querySelectorAll("tr[data-run]").forEach(function (row) {
    attempts[row.dataset.run] = row.cells[1].textContent;
  });

  function cell(row, label, text, pre) {
    const td = row.insertCell();
    td.dataset.label = label;
    const holder = pre ? document.createElement("pre") : td;
    holder.textContent = text == null ? "" : String(text);
    if (pre) td.appendChild(holder);
  }

  function badge(status) {
    const span = document.createElement("span");
    span.className = "badge badge-" + status;
    span.textContent = status;
    return span;
  }

  function showRun(run) {
    attempts[run.id] = String(run.attempt);
    let row = runs.querySelector('tr[data-run="' + CSS.escape(run.id) + '"]');
    if (!row) {
      row = runs.insertRow();
      row.dataset.run = run.id;
      cell(row, "Run", run.id);
      cell(row, "Attempt", run.attempt);
      cell(row, "Status", "");
      row.cells[2].className = "run-status";
      cell(row, "Started", "");
      cell(row, "Reason", "");
    }
    row.cells[2].replaceChildren(badge(run.status));
    row.cells[4].textContent = run.reason || "";
  }

  function showEvent(e) {
    if (!e.task || !ENDED.has(e.status)) return;
    const id = e.run + ":" + e.seq;
    if (tasks.querySelector('tr[data-id="' + CSS.escape(id) + '"]')) return;
    const row = tasks.insertRow();
    row.dataset.id = id;
    if (FAILED.has(e.status)) row.className = "failed";
    cell(row, "Attempt", attempts[e.run] || "");
    cell(row, "Task", e.task);
    cell(row, "Host", e.host || "");
    cell(row, "Status", e.status);
    cell(row, "Output", e.stdout, true);
  }

  const source = new EventSource(live.dataset.stream);
  live.textContent = "Live: tasks appear as they run.";
  source.addEventListener("run", function (m) { showRun(JSON.parse(m.data)); });
  source.addEventListener("event", function (m) { showEvent(JSON.parse(m.data)); });
  source.addEventListener("order", function (m) {
    document.getElementById("order-status").replaceChildren(badge(JSON.parse(m.data).status));
  });
  source.addEventListener("end", function () {
    source.close();
    live.textContent = "The order has ended.";
  });
})();
