// Company clerks: the company's guards with capture status per named finger, enrolment
// (one by one or from a CSV), face/finger capture, the eligibility pre-check and the
// issuance request, card PDFs, the inbox and the annual report.
import { setupPage, api, t, h, say, signedIn, principal, problemText, download, fmtDate, fmtTime, ApiError, lang } from "./lib/common.js";

/**
 * @typedef {{ id: string, name: string, status?: string, id_number_masked?: string,
 *             capture?: { face: string | null, fingers_enrolled: number, complete: boolean,
 *                         certificate: string | null } | null }} Guard
 * @typedef {{ position: number, status: string, quality?: number, minutiae?: number }} Finger
 * @typedef {{ guard_id: string, face: string | null, face_quality?: number | null,
 *             fingers: Finger[], complete: boolean }} Capture
 * @typedef {{ code: string, message: string }} Reason
 */

const PAGE = "company";
/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @param {string} id */
const $in = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));
/** @type {Guard | null} */
let selected = null;
/** @type {Guard[]} */
let guards = [];
const BATCH_ROWS = 20;

// ISO/IEC 19794-2 finger positions: 1-5 right thumb..little, 6-10 left thumb..little.
/** @param {number | string} p */
export const fingerName = (p) => t("finger." + p);
/** @param {string | null | undefined} s */
const statusWord = (s) => t("capture." + (s || "none"));

const positionSelect = /** @type {HTMLSelectElement} */ ($("position"));
function fillPositions() {
  const keep = positionSelect.value || "2";
  positionSelect.textContent = "";
  for (let p = 1; p <= 10; p++) positionSelect.append(h("option", { value: String(p), text: `${fingerName(p)} (${p})` }));
  positionSelect.value = keep;
}
fillPositions();

/** @param {Capture | null | undefined} b */
function captureSummary(b) {
  if (!b) return "";
  const enrolled = b.fingers.filter((f) => f.status === "enrolled").map((f) => fingerName(f.position));
  const held = b.fingers.filter((f) => f.status === "held").map((f) => fingerName(f.position));
  const sep = lang === "zh" ? "、" : ", ";
  const parts = [`${t("company.face")}: ${statusWord(b.face)}`,
    `${t("company.fingers")}: ${enrolled.length ? enrolled.join(sep) : t("capture.none")}`];
  if (held.length) parts.push(`${t("capture.held")}: ${held.join(sep)}`);
  parts.push(b.complete ? t("company.complete") : t("company.incomplete"));
  return parts.join(" · ");
}

/** Why a capture is held, worded for the company (who the other person is stays with the regulator). */
function holdNote() { return t("company.held.why"); }

// -- the company, the inbox and the annual report ---------------------------------------
async function loadCompany() {
  const p = principal(); if (!p || !p.company_id) return;
  try {
    const c = await api(PAGE, `/v1/companies/${p.company_id}`);
    $("company-name").textContent = c.name;
    $("company-meta").textContent = [c.credit_code, c.licence_number, c.district].filter(Boolean).join(" · ");
  } catch (e) { $("company-meta").textContent = problemText(e); }
}

async function loadInbox() {
  const p = principal(); if (!p || !p.company_id) return;
  const ul = $("inbox-list");
  try {
    const box = await api(PAGE, `/v1/companies/${p.company_id}/notifications?limit=10`);
    ul.textContent = ""; say($("inbox-msg"), "");
    $("inbox-unread").textContent = box.unread ? t("company.inbox.unread").replace("{n}", String(box.unread)) : "";
    if (!box.items.length) { say($("inbox-msg"), t("company.inbox.none"), "info"); return; }
    for (const n of box.items) {
      const li = h("li", { class: n.read_at ? "read" : "unread", "data-notification-id": String(n.id) },
        h("span", { class: "when", text: fmtTime(n.created_at) }), " ", h("strong", { text: n.subject }));
      if (!n.read_at) li.append(" ", h("button", { type: "button", class: "small", "aria-label": `${t("company.inbox.read")}: ${n.subject}`,
        onclick: async () => {
          try { await api(PAGE, `/v1/companies/${p.company_id}/notifications/${n.id}/read`, { method: "POST" }); loadInbox(); }
          catch (e) { say($("inbox-msg"), problemText(e), "error"); }
        } }, t("company.inbox.read")));
      ul.append(li);
    }
  } catch (e) { say($("inbox-msg"), problemText(e), "error"); }
}

async function loadAnnual() {
  const p = principal(); if (!p || !p.company_id) return;
  const ul = $("annual-list"); ul.textContent = "";
  try {
    const r = await api(PAGE, `/v1/companies/${p.company_id}/annual-reports`);
    const cur = r.current;
    if (cur) {
      const kind = { due: "warn", overdue: "error", rejected: "error", filed: "ok", accepted: "ok" }[/** @type {string} */ (cur.status)] || "info";
      say($("annual-status"), t("company.annual.current").replace("{year}", String(cur.year)).replace("{due}", fmtDate(cur.due))
        + " · " + t("annual." + cur.status), kind);
      $("annual-status").dataset.status = cur.status;
      if (!$in("ar-year").value) $in("ar-year").value = String(cur.year);
    }
    for (const a of r.items) {
      ul.append(h("li", { "data-report-year": String(a.year) },
        `${a.year} · ${t("annual." + a.status)} · ${t("company.annual.headcount")} ${a.headcount} · ${fmtDate(a.filed_at)}`,
        a.review_note ? ` · ${a.review_note}` : ""));
    }
  } catch (e) { say($("annual-status"), problemText(e), "error"); }
}

$("annual-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const p = principal(); if (!p) return;
  /** @type {Record<string, unknown>} */
  const body = {};
  for (const name of ["year", "headcount", "labour_contracts", "insured", "training_hours", "incidents"]) {
    body[name] = Number(/** @type {HTMLInputElement} */ (document.querySelector(`#annual-form [name=${name}]`)).value);
  }
  const notes = /** @type {HTMLTextAreaElement} */ ($("ar-notes")).value.trim();
  if (notes) body.notes = notes;
  try {
    await api(PAGE, `/v1/companies/${p.company_id}/annual-reports`, { method: "POST", json: body });
    say($("annual-msg"), t("company.annual.filed").replace("{year}", String(body.year)), "ok");
    await loadAnnual();
  } catch (e) { say($("annual-msg"), problemText(e), "error"); }
});

// -- guards -----------------------------------------------------------------------------
/** @param {HTMLElement} cell @param {Capture} b */
function fingerChips(cell, b) {
  cell.textContent = "";
  const byPos = new Map(b.fingers.map((f) => [f.position, f.status]));
  cell.append(h("span", { class: "chip " + (b.face || "none") }, `${t("company.face")}: ${statusWord(b.face)}`));
  for (const [pos, st] of byPos) cell.append(h("span", { class: "chip " + st, "data-position": String(pos) }, `${fingerName(pos)}: ${statusWord(st)}`));
  if (!byPos.size) cell.append(h("span", { class: "chip none" }, `${t("company.fingers")}: ${t("capture.none")}`));
}

async function loadGuards() {
  const ul = $("guards"); ul.textContent = ""; say($("list-msg"), "");
  if (!signedIn()) return;
  try {
    const page = await api(PAGE, "/v1/guards?limit=200&include=capture");
    guards = page.items;
    if (!guards.length) { say($("list-msg"), t("company.none"), "info"); return; }
    for (const g of guards) {
      const status = h("div", { class: "capture-status chips" });
      const cert = h("span", { class: "cert-status" });
      const cap = g.capture;
      const li = h("li", { "data-guard-id": String(g.id) },
        h("div", { class: "guard-row" },
          h("strong", { text: g.name }), " ", h("span", { class: "note", text: g.id_number_masked || "" }),
          h("button", { type: "button", class: "small", "aria-label": `${t("company.select")} ${g.name}`, onclick: () => select(g) }, t("company.select")),
          cap && cap.certificate ? h("button", { type: "button", class: "small secondary", "aria-label": `${t("company.card")} ${g.name}`,
            onclick: () => cardFor(g, $("list-msg")) }, t("company.card")) : null),
        status, cert);
      if (cap) {
        status.classList.add(cap.complete ? "ok" : "todo");
        if (cap.certificate) cert.textContent = `${t("company.cert")}: ${t("certstatus." + cap.certificate)}`;
      }
      ul.append(li);
      api(PAGE, `/v1/guards/${g.id}/biometrics`).then((/** @type {Capture} */ b) => { fingerChips(status, b); }).catch(() => {});
    }
  } catch (e) { say($("list-msg"), problemText(e), "error"); }
}

/** @param {Guard} g @param {HTMLElement} msg */
async function cardFor(g, msg) {
  try { await download(PAGE, `/v1/guards/${g.id}/card.pdf`, `guard-${g.id}-card.pdf`); say(msg, ""); }
  catch (e) { say(msg, e instanceof ApiError && e.status === 404 ? t("company.card.none") : problemText(e), "error"); }
}

async function refreshSelected() {
  if (!selected) return;
  const g = selected;
  try {
    /** @type {Capture} */
    const b = await api(PAGE, `/v1/guards/${g.id}/biometrics`);
    $("sel-status").textContent = captureSummary(b);
    $("capture").dataset.complete = String(b.complete);
    const tb = /** @type {HTMLElement} */ ($("sel-fingers").querySelector("tbody")); tb.textContent = "";
    tb.append(h("tr", { "data-position": "face" }, h("th", { scope: "row", text: t("company.face") }),
      h("td", { class: "st-" + (b.face || "none"), text: statusWord(b.face) + (b.face === "held" ? ` – ${holdNote()}` : "") })));
    for (let p = 1; p <= 10; p++) {
      const f = b.fingers.find((x) => x.position === p);
      tb.append(h("tr", { "data-position": String(p) }, h("th", { scope: "row", text: `${fingerName(p)} (${p})` }),
        h("td", { class: "st-" + (f ? f.status : "none"), text: f ? statusWord(f.status) + (f.status === "held" ? ` – ${holdNote()}` : "") : statusWord(null) })));
    }
  } catch (e) { $("sel-status").textContent = problemText(e); }
  await checkEligibility();
}

/** The eligibility pre-check: the request button works only for an eligible guard. */
async function checkEligibility() {
  if (!selected) return;
  const box = $("eligibility"); const button = /** @type {HTMLButtonElement} */ ($("request"));
  box.textContent = "…"; box.className = "msg info";
  try {
    const r = await api(PAGE, `/v1/guards/${selected.id}/eligibility`);
    box.textContent = "";
    box.dataset.eligible = String(r.eligible);
    button.disabled = !r.eligible;
    if (r.eligible) { box.className = "msg ok"; box.append(t("company.eligible")); return; }
    box.className = "msg warn";
    box.append(h("p", { text: t("company.ineligible") }), reasonList(r.reasons));
  } catch (e) { box.className = "msg error"; box.textContent = problemText(e); button.disabled = false; }
}

/** @param {Reason[]} reasons */
function reasonList(reasons) {
  return h("ul", { class: "reasons" }, ...reasons.map((r) => {
    const key = "elig." + r.code; const word = t(key);
    return h("li", { "data-code": r.code, text: word === key ? r.message : word });
  }));
}

/** @param {Guard} g */
function select(g) {
  selected = g;
  $("capture").hidden = false; $("capture").dataset.guardId = String(g.id);
  $("sel-name").textContent = g.name;
  ["photo-msg", "finger-msg", "request-msg", "activation-msg"].forEach((id) => say($(id), ""));
  refreshSelected();
  $("capture-h").scrollIntoView({ block: "start" });
}

/** @param {HTMLElement} node @param {string} kind @param {any} body */
function outcome(node, kind, body) {
  if (body.status === "held") say(node, `${kind}: ${t("company.held")} – ${holdNote()}`, "warn");
  else say(node, `${kind}: ${t("company.enrolled")}`, "ok");
}

/** A refusal of a capture, with the failed check named in the page's language. @param {unknown} e */
function rejection(e) {
  if (e instanceof ApiError && e.problem.check) {
    const key = "check." + e.problem.check; const word = t(key);
    return `${t("company.rejected")}: ${word === key ? e.problem.check : word} · ${problemText(e)}`;
  }
  return `${t("company.rejected")}: ${problemText(e)}`;
}

/** @param {Blob} blob @param {string} name */
async function uploadPhoto(blob, name) {
  if (!selected) return;
  const fd = new FormData(); fd.append("photo", blob, name);
  say($("photo-msg"), "…", "info");
  try { const b = await api(PAGE, `/v1/guards/${selected.id}/face`, { method: "POST", form: fd }); outcome($("photo-msg"), t("company.face"), b); }
  catch (e) { say($("photo-msg"), rejection(e), "error"); }
  refreshSelected(); loadGuards();
}

// -- the company's clerks: accounts it creates, resets and disables itself ---------------
/** A one-time password, shown once, in the message. @param {string} text @param {string} password */
function showOnce(text, password) {
  const msg = $("clerk-msg"); say(msg, text, "ok");
  msg.append(" ", h("output", { id: "clerk-password", class: "code", text: password }));
}

async function loadClerks() {
  const ul = $("clerk-list"); ul.textContent = "";
  try {
    const r = await api(PAGE, "/v1/accounts");
    const me = principal();
    for (const a of r.items) {
      const state = a.disabled ? t("company.clerks.disabled") : a.locked ? t("company.clerks.locked")
        : a.must_change_password ? t("company.clerks.new") : t("company.clerks.active");
      const li = h("li", { "data-account-id": String(a.id) }, h("strong", { text: a.username }), ` · ${state} `);
      if (!a.disabled && (!me || a.username !== me.name)) {
        li.append(h("button", { type: "button", class: "small secondary", "aria-label": `${t("company.clerks.reset")} ${a.username}`, onclick: async () => {
          try { const c = await api(PAGE, `/v1/accounts/${a.id}/reset`, { method: "POST" }); showOnce(t("company.clerks.reset.done").replace("{user}", a.username), c.one_time_password); loadClerks(); }
          catch (e) { say($("clerk-msg"), problemText(e), "error"); }
        } }, t("company.clerks.reset")), " ",
        h("button", { type: "button", class: "small secondary", "aria-label": `${t("company.clerks.disable")} ${a.username}`, onclick: async () => {
          try { await api(PAGE, `/v1/accounts/${a.id}/disable`, { method: "POST" }); say($("clerk-msg"), t("company.clerks.disabled.done").replace("{user}", a.username), "ok"); loadClerks(); }
          catch (e) { say($("clerk-msg"), problemText(e), "error"); }
        } }, t("company.clerks.disable")));
      }
      ul.append(li);
    }
  } catch (e) { say($("clerk-msg"), problemText(e), "error"); }
}

$("clerk-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const username = $in("clerk-user").value.trim();
  try {
    const c = await api(PAGE, "/v1/accounts", { method: "POST", json: { username, role: "company_operator" } });
    $in("clerk-user").value = "";
    showOnce(t("company.clerks.created").replace("{user}", c.account.username), c.one_time_password);
    loadClerks();
  } catch (e) { say($("clerk-msg"), problemText(e), "error"); }
});

const ready = setupPage(PAGE, {
  roles: ["company_operator"],
  onSignIn: () => Promise.all([loadCompany(), loadInbox(), loadAnnual(), loadClerks(), loadGuards()]),
  onSignOut: () => { $("guards").textContent = ""; $("capture").hidden = true; selected = null; },
});

$("enroll-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = /** @type {HTMLFormElement} */ (ev.target);
  const field = (/** @type {string} */ n) => /** @type {HTMLInputElement} */ (f.elements.namedItem(n)).value.trim();
  /** @type {Record<string, string>} */
  const body = { name: field("name"), id_number: field("id_number").toUpperCase() };
  if (field("phone")) body.phone = field("phone");
  if (field("consent_code")) body.consent_code = field("consent_code");
  try {
    const g = await api(PAGE, "/v1/guards", { method: "POST", json: body });
    if (g.status === "awaiting-confirmation") {
      // Issue 14: the person confirms with a code texted to them; step two is that code.
      $("g-code-box").hidden = false;
      $in("g-code").value = "";
      say($("enroll-msg"), t(body.consent_code ? "company.enroll.code-wrong" : "company.enroll.awaiting"), "warn");
      $in("g-code").focus();
      return;
    }
    say($("enroll-msg"), `${t("company.enrolled")}: ${g.name}` + (g.enrollment_held ? ` – ${t("elig.enrollment-held")}` : ""), g.enrollment_held ? "warn" : "ok");
    f.reset();
    $("g-code-box").hidden = true;
    await loadGuards();
    select(g);
  } catch (e) { say($("enroll-msg"), problemText(e), "error"); }
});

// -- batch enrollment: the CSV goes in slices, so the page can show progress ----------------
/** @param {string} text @returns {{ header: string, rows: { line: number, text: string }[] }} */
export function splitCsv(text) {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const header = lines[0] || "";
  const rows = [];
  for (let i = 1; i < lines.length; i++) if (lines[i].trim()) rows.push({ line: i + 1, text: lines[i] });
  return { header, rows };
}

/** @param {string} header @param {string} row */
function nameOf(header, row) {
  const cols = header.split(",").map((c) => c.trim().toLowerCase());
  const i = cols.indexOf("name");
  return i >= 0 ? (row.split(",")[i] || "").replace(/^"|"$/g, "").trim() : "";
}

$("batch-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = ($in("batch-file").files || [])[0]; if (!file) return;
  const { header, rows } = splitCsv(await file.text());
  const bar = /** @type {HTMLProgressElement} */ ($("batch-progress"));
  const tbody = /** @type {HTMLElement} */ ($("batch-report").querySelector("tbody"));
  tbody.textContent = ""; $("batch-report").hidden = false; $("batch-progress-box").hidden = false;
  bar.max = rows.length || 1; bar.value = 0; say($("batch-msg"), "");
  const counts = { enrolled: 0, existing: 0, rejected: 0, awaiting: 0 };
  /** @param {number} line @param {string} name @param {string} kind @param {string} text */
  const report = (line, name, kind, text) => tbody.append(h("tr", { class: "row-" + kind, "data-line": String(line) },
    h("td", { text: String(line) }), h("td", { text: name }), h("td", { text })));
  for (let start = 0; start < rows.length; start += BATCH_ROWS) {
    const slice = rows.slice(start, start + BATCH_ROWS);
    const fd = new FormData();
    fd.append("file", new Blob([header + "\n" + slice.map((r) => r.text).join("\n") + "\n"], { type: "text/csv" }), "slice.csv");
    /** @param {number} n the slice's own line number (its header is line 1) */
    const orig = (n) => slice[n - 2];
    try {
      const r = await api(PAGE, "/v1/guards/import", { method: "POST", form: fd });
      for (const x of r.enrolled || []) { const o = orig(x.line); counts.enrolled++; report(o.line, nameOf(header, o.text), "enrolled", t("company.batch.enrolled")); }
      for (const x of r.existing || []) { const o = orig(x.line); counts.existing++; report(o.line, nameOf(header, o.text), "existing", t("company.batch.existing")); }
      for (const x of r.awaiting_confirmation || []) { const o = orig(x.line); counts.awaiting++; report(o.line, nameOf(header, o.text), "awaiting", t("company.batch.awaiting")); }
      for (const x of r.rejected || []) {
        const o = orig(x.line); counts.rejected++;
        report(o.line, nameOf(header, o.text), "rejected", `${t("company.rejected")}: ${x.error || x.detail || x.message || x.reason || ""}${x.field ? ` (${x.field})` : ""}`);
      }
    } catch (e) {
      for (const o of slice) { counts.rejected++; report(o.line, nameOf(header, o.text), "rejected", problemText(e)); }
    }
    bar.value = Math.min(rows.length, start + slice.length);
    $("batch-count").textContent = t("company.batch.count").replace("{done}", String(bar.value)).replace("{all}", String(rows.length));
  }
  say($("batch-msg"), t("company.batch.done").replace("{enrolled}", String(counts.enrolled))
    .replace("{existing}", String(counts.existing)).replace("{rejected}", String(counts.rejected))
    + (counts.awaiting ? " " + t("company.batch.awaiting-count").replace("{awaiting}", String(counts.awaiting)) : ""),
    counts.rejected || counts.awaiting ? "warn" : "ok");
  $("batch").dataset.done = "1";
  loadGuards();
});

// -- capture ----------------------------------------------------------------------------------
$("photo-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const file = ($in("photo").files || [])[0];
  if (file) uploadPhoto(file, file.name);
});

/** @type {MediaStream | null} */
let camStream = null;
const video = /** @type {HTMLVideoElement} */ ($("webcam-video"));
$("webcam").addEventListener("click", async () => {
  try {
    camStream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" } });
    video.srcObject = camStream; await video.play(); $("webcam-box").hidden = false;
  } catch (e) { say($("photo-msg"), t("scan.nocamera") + ` (${e instanceof Error ? e.name : e})`, "error"); }
});
$("snap").addEventListener("click", () => {
  const c = document.createElement("canvas");
  c.width = video.videoWidth; c.height = video.videoHeight;
  const ctx = c.getContext("2d"); if (ctx) ctx.drawImage(video, 0, 0);
  c.toBlob((blob) => { if (blob) uploadPhoto(blob, "webcam.jpg"); }, "image/jpeg", 0.92);
  if (camStream) camStream.getTracks().forEach((tr) => tr.stop());
  $("webcam-box").hidden = true;
});

$("finger-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = ($in("finger").files || [])[0]; if (!file || !selected) return;
  const fd = new FormData(); fd.append("image", file, file.name);
  const pos = positionSelect.value;
  say($("finger-msg"), "…", "info");
  try { const b = await api(PAGE, `/v1/guards/${selected.id}/fingers/${pos}`, { method: "POST", form: fd }); outcome($("finger-msg"), fingerName(b.position || pos), b); }
  catch (e) { say($("finger-msg"), rejection(e), "error"); }
  refreshSelected(); loadGuards();
});

$("request").addEventListener("click", async () => {
  if (!selected) return;
  try {
    const r = await api(PAGE, `/v1/guards/${selected.id}/certificate-requests`, { method: "POST", json: {} });
    say($("request-msg"), `${t("company.requested")} (#${String(r.id).slice(0, 8)})`, "ok");
  } catch (e) {
    if (e instanceof ApiError && e.status === 422 && Array.isArray(e.problem.reasons)) {
      const msg = $("request-msg"); say(msg, t("company.ineligible"), "error"); msg.append(reasonList(e.problem.reasons));
    } else say($("request-msg"), problemText(e), "error");
  }
});
$("card").addEventListener("click", () => { if (selected) cardFor(selected, $("request-msg")); });
$("activation").addEventListener("click", async () => {
  if (!selected) return;
  const msg = $("activation-msg");
  try {
    const r = await api(PAGE, `/v1/guards/${selected.id}/activation-codes`, { method: "POST" });
    say(msg, t("company.activation.code").replace("{until}", fmtTime(r.expires_at)), "ok");
    msg.append(" ", h("output", { id: "activation-code", class: "code", text: r.code }));
  } catch (e) {
    say(msg, e instanceof ApiError && e.status === 409 ? t("company.activation.exists") : problemText(e), "error");
  }
});
document.addEventListener("langchange", () => { fillPositions(); if (signedIn()) { loadGuards(); loadAnnual(); loadInbox(); refreshSelected(); } });
ready.finally(() => { document.body.dataset.ready = "1"; });
