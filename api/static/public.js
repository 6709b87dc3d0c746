// The public page: file and follow a complaint; read the red/black lists and the
// published inspection results. No sign-in: every call here is a public endpoint.

const OUTCOMES = {
  "upheld": "属实 · upheld", "not-upheld": "不属实 · not upheld", "referred": "已移送 · referred",
  "pass": "合格 · pass", "minor-findings": "轻微问题 · minor findings",
  "major-findings": "严重问题 · major findings",
};
const STATUS = {
  "received": "已受理 · received", "triaged": "已分派 · triaged",
  "investigating": "调查中 · investigating", "closed": "已办结 · closed",
  "assigned": "已指派调查人员 · investigator assigned",
};

function el(tag, text, cls) {
  const n = document.createElement(tag);
  if (text != null) n.textContent = text;
  if (cls) n.className = cls;
  return n;
}

async function problem(resp) {
  try { const p = await resp.json(); return p.detail || p.title || "HTTP " + resp.status; }
  catch (e) { return "HTTP " + resp.status; }
}

async function submitComplaint(ev) {
  ev.preventDefault();
  const form = ev.target;
  const msg = document.getElementById("complaint-msg");
  const data = new FormData(form);
  for (const k of ["company", "certificate_number", "contact"]) if (!data.get(k)) data.delete(k);
  if (!data.getAll("attachments").some((f) => f instanceof File && f.size)) data.delete("attachments");
  msg.className = ""; msg.textContent = "…";
  const resp = await fetch("/v1/public/complaints", { method: "POST", body: data });
  if (!resp.ok) { msg.className = "error"; msg.textContent = await problem(resp); return; }
  const body = await resp.json();
  msg.className = "ok";
  msg.textContent = "已受理。请保存查询码（只显示这一次）· Received. Keep this tracking code (shown once): ";
  msg.append(el("code", body.tracking_code, "tracking-code"));
  form.reset();
}

async function track(ev) {
  ev.preventDefault();
  const out = document.getElementById("track-result");
  out.replaceChildren();
  const code = /** @type {HTMLInputElement} */ (document.getElementById("t-code")).value.trim();
  const resp = await fetch("/v1/public/complaints/" + encodeURIComponent(code));
  if (!resp.ok) { out.append(el("p", await problem(resp), "error")); return; }
  const c = await resp.json();
  out.append(el("p", "状态 · Status: " + (STATUS[c.status] || c.status), "status"));
  if (c.outcome) out.append(el("p", "结果 · Outcome: " + (OUTCOMES[c.outcome] || c.outcome)));
  if (c.summary) out.append(el("p", c.summary));
  const ol = el("ol");
  for (const s of c.steps) ol.append(el("li", `${s.at.slice(0, 10)} ${STATUS[s.kind] || s.kind}`));
  out.append(ol);
}

async function lists() {
  for (const name of ["red", "black"]) {
    const ul = document.getElementById("list-" + name);
    const resp = await fetch("/v1/public/lists/" + name);
    if (!resp.ok) { ul.append(el("li", await problem(resp), "error")); continue; }
    const body = await resp.json();
    if (!body.items.length) ul.append(el("li", "无 · none"));
    for (const c of body.items) {
      ul.append(el("li", `${c.name} (${c.district}, ${c.credit_code}) · ${c.added_on} · ${c.reason}`));
    }
  }
}

async function inspections() {
  const ul = document.getElementById("inspections");
  const resp = await fetch("/v1/public/inspections");
  if (!resp.ok) { ul.append(el("li", await problem(resp), "error")); return; }
  const body = await resp.json();
  if (!body.items.length) ul.append(el("li", "暂无 · none yet"));
  for (const i of body.items) {
    ul.append(el("li", `${i.inspected_on} · ${i.company_name} · ${OUTCOMES[i.outcome] || i.outcome}` +
      (i.findings ? ` · ${i.findings}` : "")));
  }
}

document.getElementById("complaint-form").addEventListener("submit", submitComplaint);
document.getElementById("track-form").addEventListener("submit", track);
lists();
inspections();
