// mfpipe console: the page's few behaviours, no framework and nothing inline (the service's
// Content-Security-Policy allows scripts from this origin only). Every change is a fetch()
// to the API carrying the session's CSRF token; destructive ones ask first.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;

async function api(method, url, body) {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : {};
  if (!response.ok) {
    throw new Error(data.detail || `${response.status} ${response.statusText}`);
  }
  return data;
}

function say(text, bad) {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = bad ? "message bad" : "message";
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-action]");
  if (!button) return;
  event.preventDefault();
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  const [method, url] = button.dataset.action.split(" ");
  try {
    const data = await api(method, url, method === "DELETE" ? undefined : {});
    say(data.message || (data.reconciliation ? `reconciled: ${data.reconciliation.passed ?
      "every check passed" : "failed " + data.reconciliation.failed.join(", ")}` : "done"));
    const then = button.dataset.then;
    window.setTimeout(() => { if (then) window.location.href = then; else window.location.reload(); },
                      1200);
  } catch (error) {
    say(error.message, true);
  }
});

// A form posted as JSON: ``build`` makes the body from its fields (null: nothing to send),
// ``then`` the page to go to with the answer.
function postForm(id, url, build, then) {
  const form = document.getElementById(id);
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = build(new FormData(form));
    if (body === null) return;
    try {
      window.location.href = then(await api("POST", url, body));
    } catch (error) {
      say(error.message, true);
    }
  });
}

postForm("launch", "/batch/jobs", (form) => {
  const jobs = form.getAll("job_file").map((file) => ({ job_file: file }));
  if (!jobs.length) { say("pick at least one job file", true); return null; }
  return {
    jobs, parallel: form.get("mode") === "parallel",
    max_workers: Number(form.get("max_workers") || 2),
    stop_on_error: form.get("stop_on_error") !== null,
  };
}, (made) => `/ui/batches/${encodeURIComponent(made.batch_id)}`);

postForm("login", "/ui/login", (form) => ({ token: form.get("token") }), () => "/ui/");

function describe(p) {
  const parts = [p.phase || p.status];
  if (p.records_read !== undefined) parts.push(`${p.records_read} read`);
  if (p.records_loaded !== undefined) parts.push(`${p.records_loaded} loaded`);
  if (p.records_rejected) parts.push(`${p.records_rejected} rejected`);
  if (p.eta_s) parts.push(`about ${Math.round(p.eta_s)} s left`);
  return parts.join(" · ");
}

function show(row, p, fraction) {
  const bar = row.querySelector("progress");
  if (bar && fraction !== null && fraction !== undefined) bar.value = fraction;
  const text = row.querySelector(".progress-text");
  if (text) text.textContent = describe(p);
  const status = row.querySelector('[data-field="status"]');
  if (status && p.status) status.textContent = p.status;
}

function runsOf(op) {
  const runs = op.runs || [];
  const sum = (key) => runs.reduce((total, run) => total + (run[key] || 0), 0);
  const fractions = runs.map((run) => run.fraction).filter((f) => f !== null);
  return {
    status: op.status, records_read: sum("records_read"), records_loaded: sum("records_loaded"),
    records_rejected: sum("records_rejected"), phase: runs.length ? runs[runs.length - 1].phase : op.status.toLowerCase(),
    fraction: fractions.length ? fractions.reduce((a, b) => a + b, 0) / fractions.length : (op.status === "COMPLETED" ? 1 : 0),
  };
}

function linkRuns(row, runs) {
  const cell = row.querySelector('[data-field="runs"]');
  if (!cell || cell.children.length >= runs.length) return;
  cell.replaceChildren(...runs.map((run) => {
    const link = document.createElement("a");
    link.href = `/ui/runs/${encodeURIComponent(run.run_id)}`;
    link.textContent = run.run_id;
    return link;
  }));
}

const ENDED = ["COMPLETED", "FAILED", "CANCELLED", "STOPPED", "ABANDONED"];

async function poll() {
  for (const element of document.querySelectorAll("[data-progress]")) {
    try {
      const response = await fetch(element.dataset.progress, { credentials: "same-origin" });
      if (!response.ok) continue;
      const p = await response.json();
      if (p.operations) {
        for (const op of p.operations) {
          const row = element.querySelector(`[data-op="${op.op_no}"]`);
          if (row) { const o = runsOf(op); show(row, o, o.fraction); linkRuns(row, op.runs || []); }
        }
        const batchStatus = document.getElementById("batch-status");
        if (batchStatus && p.status) batchStatus.textContent = p.status;
        if (!element.querySelector("[data-op]")) show(element, p, p.fraction);
        if (element.dataset.reloadWhenEnded === "yes" && ENDED.includes(p.status)) {
          element.dataset.reloadWhenEnded = "no";
          window.location.reload();
        }
      } else {
        show(element, p, p.fraction);
      }
    } catch (error) {
      // the next poll tries again
    }
  }
}

if (document.querySelector("[data-progress]")) {
  poll();
  window.setInterval(poll, 2000);
}
