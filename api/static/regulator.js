// Regulator console (docs/web.md): overview with charts, duplicate review with every
// modality's evidence, issuance queue, companies, guards, background-check CSV import,
// bans, audit log, keys and trust list, CSV exports. One section at a time (URL hash).
import { setupPage, api, ApiError, t, lang, h, say, keyFor, problemText, fmtTime, fmtDate, download } from "./lib/common.js";

const PAGE = "regulator";
/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const SECTIONS = ["overview", "reviews", "issuance", "companies", "guards", "checks", "bans", "audit", "keys", "exports"];
const objectUrls = [];

// The one place that says whether someone is signed in (sign-in itself is common.js's).
function signedIn() { return !!keyFor(PAGE); }

function svg(tag, attrs = {}, text) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text != null) n.textContent = text;
  return n;
}
const fill = (key, vars) => Object.entries(vars).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, v), t(key));
// A translated value, or the code itself when the catalogue has none.
function tv(group, value) {
  if (value == null || value === "") return "–";
  const key = `reg.v.${group}.${value}`;
  const s = t(key);
  return s === key ? String(value) : s;
}
function finger(pos) { return pos ? t(`reg.finger.${pos}`) : t("reg.finger.unknown"); }
function failBox(node, e) {
  say(node, e instanceof ApiError && e.status === 404 ? t("dash.unavailable") : problemText(e), "error");
}
function table(caption, columns, rows, { cls = "reg-table" } = {}) {
  const head = h("tr", {}, ...columns.map((c) => h("th", { scope: "col", text: t(c.label) })));
  const body = rows.map((r) => h("tr", r.__attrs || {}, ...columns.map((c) => {
    const v = c.render ? c.render(r) : r[c.key];
    return h("td", { "data-label": t(c.label) }, v instanceof Node ? v : (v == null || v === "" ? "–" : String(v)));
  })));
  return h("table", { class: cls }, h("caption", { class: "visually-hidden", text: caption }), h("thead", {}, head), h("tbody", {}, ...body));
}
function dl(pairs) {
  return h("dl", { class: "reg-dl" }, ...pairs.flatMap(([k, v]) => [h("dt", { text: t(k) }), h("dd", {}, v instanceof Node ? v : (v == null || v === "" ? "–" : String(v)))]));
}
async function blobUrl(path) {
  try {
    const resp = await api(PAGE, path, { raw: true });
    const url = URL.createObjectURL(await resp.blob()); objectUrls.push(url); return url;
  } catch (e) { return null; }
}

// -- odds in words -------------------------------------------------------------------
function bigNumber(n) {
  if (lang === "zh") {
    if (n >= 1e12) return `${+(n / 1e12).toPrecision(3)} 万亿`;
    if (n >= 1e8) return `${+(n / 1e8).toPrecision(3)} 亿`;
    if (n >= 1e4) return `${+(n / 1e4).toPrecision(3)} 万`;
    return n.toLocaleString("zh-CN");
  }
  for (const [size, word] of /** @type {Array<[number, string]>} */ ([[1e12, "trillion"], [1e9, "billion"], [1e6, "million"]])) if (n >= size) return `${+(n / size).toPrecision(3)} ${word}`;
  return n.toLocaleString("en-GB");
}
function modalitiesInWords(mods) {
  const fingers = mods.filter((m) => m === "finger").length;
  const parts = [];
  if (mods.includes("face")) parts.push(t("reg.odds.face"));
  if (fingers) parts.push(fill(fingers === 1 ? "reg.odds.finger1" : "reg.odds.fingers", { n: fingers }));
  return parts.join(t("reg.odds.and")) || "–";
}
export function oddsInWords(c) {
  const what = modalitiesInWords(c.modalities || []);
  if (c.chance == null) return t("reg.odds.unknown");
  if (c.one_in == null) return fill("reg.odds.common", { what });
  if (c.one_in > 1e15) return fill("reg.odds.beyond", { what });
  return fill("reg.odds.words", { n: bigNumber(c.one_in), what });
}

// -- minutiae plot: both templates side by side, mated minutiae linked -----------------
const PANEL_W = 200, PANEL_H = 250, GAP = 24, PAD = 10;
function fingerPlot(f, heldName, otherName) {
  const el = svg("svg", { viewBox: `0 0 ${2 * PANEL_W + GAP} ${PANEL_H + 22}`, role: "img", class: "minutiae-plot",
    "data-pairs": String(f.pairs.length) });
  const label = fill("reg.plot.label", { a: finger(f.position), b: finger(f.candidate_position), na: f.held_minutiae.length, nb: f.candidate_minutiae.length, np: f.pairs.length });
  el.setAttribute("aria-label", label);
  el.append(svg("title", {}, label));
  const box = (ms) => {
    if (!ms.length) return { x0: 0, y0: 0, w: 1, h: 1 };
    const xs = ms.map((m) => m[0]), ys = ms.map((m) => m[1]);
    const x0 = Math.min(...xs), y0 = Math.min(...ys);
    return { x0, y0, w: Math.max(1, Math.max(...xs) - x0), h: Math.max(1, Math.max(...ys) - y0) };
  };
  const ba = box(f.held_minutiae), bb = box(f.candidate_minutiae);
  // one scale for both sides, so distances compare
  const s = Math.min((PANEL_W - 2 * PAD) / Math.max(ba.w, bb.w), (PANEL_H - 2 * PAD) / Math.max(ba.h, bb.h));
  const place = (m, b, ox) => [ox + PAD + (m[0] - b.x0) * s + ((PANEL_W - 2 * PAD) - b.w * s) / 2, PAD + (m[1] - b.y0) * s + ((PANEL_H - 2 * PAD) - b.h * s) / 2];
  for (const [ox, who] of [[0, heldName], [PANEL_W + GAP, otherName]]) {
    el.append(svg("rect", { x: ox, y: 0, width: PANEL_W, height: PANEL_H, class: "plot-bg", rx: 6 }));
    el.append(svg("text", { x: ox + PANEL_W / 2, y: PANEL_H + 16, class: "plot-cap", "text-anchor": "middle" }, who));
  }
  const matedA = new Set(f.pairs.map((p) => p[0])), matedB = new Set(f.pairs.map((p) => p[1]));
  const draw = (ms, b, ox, mated, side) => ms.forEach((m, i) => {
    const [x, y] = place(m, b, ox);
    const a = (m[2] * Math.PI) / 180;
    const on = mated.has(i);
    const g = svg("g", { class: on ? "minutia mated" : "minutia", "data-side": side, "data-index": String(i) });
    g.append(svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: on ? 4 : 2.6 }));
    g.append(svg("line", { x1: x.toFixed(1), y1: y.toFixed(1), x2: (x + 9 * Math.cos(a)).toFixed(1), y2: (y + 9 * Math.sin(a)).toFixed(1) }));
    el.append(g);
  });
  draw(f.held_minutiae, ba, 0, matedA, "held");
  draw(f.candidate_minutiae, bb, PANEL_W + GAP, matedB, "candidate");
  f.pairs.forEach(([i, j, sim], k) => {
    const [x1, y1] = place(f.held_minutiae[i], ba, 0);
    const [x2, y2] = place(f.candidate_minutiae[j], bb, PANEL_W + GAP);
    const line = svg("line", { x1: x1.toFixed(1), y1: y1.toFixed(1), x2: x2.toFixed(1), y2: y2.toFixed(1), class: "mate",
      "data-held": String(i), "data-candidate": String(j), "stroke-opacity": (0.35 + 0.65 * Math.min(1, sim)).toFixed(2) });
    line.append(svg("title", {}, `${k + 1}: ${t("reg.plot.pair")} ${(sim * 100).toFixed(0)}%`));
    el.append(line);
  });
  return el;
}

// -- duplicate review ---------------------------------------------------------------------
function identityCard(who, role) {
  if (!who) return h("div", { class: "identity" }, h("p", { text: t("reg.who.unknown") }));
  const ban = who.banned_now
    ? h("span", { class: "badge red", text: `${t("reg.who.banned")}${who.bans && who.bans.length ? ": " + who.bans.map((b) => `${b.reason}${b.until_on ? " (" + t("reg.bans.to") + " " + fmtDate(b.until_on) + ")" : " (" + t("reg.bans.life") + ")"}`).join("; ") : ""}` })
    : h("span", { class: "badge ok", text: t("reg.who.notbanned") });
  return h("div", { class: "identity", "data-role": role },
    h("p", { class: "identity-role", text: t(role === "held" ? "reg.who.held" : "reg.who.other") }),
    h("p", { class: "identity-name" }, h("strong", { text: who.name })),
    dl([["f.idnumber", who.id_number_masked], ["reg.who.employer", who.employer || t("reg.who.noemployer")], ["reg.who.ban", ban]]));
}

async function renderEvidence(li, r) {
  const ev = await api(PAGE, `/v1/biometrics/reviews/${r.id}/evidence`);
  const box = h("div", { class: "evidence" });
  li.append(box);
  for (const [k, c] of ev.candidates.entries()) {
    const part = h("div", { class: "candidate-evidence", "data-candidate": String(c.identity ? c.identity.guard_id : k) });
    part.append(h("p", { class: "odds" + (c.banned_at_hold || (c.identity && c.identity.banned_now) ? " banned" : "") }, h("strong", { text: oddsInWords(c) })));
    if (c.fused_llr != null) part.append(h("p", { class: "note", text: fill("reg.odds.detail", { llr: Number(c.fused_llr).toFixed(1), thr: c.threshold == null ? "–" : Number(c.threshold).toFixed(1) }) }));
    part.append(h("div", { class: "pair ids" }, identityCard(ev.held, "held"), identityCard(c.identity, "other")));
    if (c.face) {
      const faces = h("div", { class: "pair faces" });
      for (const [url, who] of [[c.face.held_portrait, ev.held], [c.face.candidate_portrait, c.identity]]) {
        const src = url ? await blobUrl(url) : null;
        const name = who ? who.name : "?";
        faces.append(h("figure", { class: "face" },
          src ? h("img", { src, alt: fill("reg.face.alt", { name }), width: "240", height: "300" }) : h("div", { class: "nophoto", text: t("f.nophoto") }),
          h("figcaption", { text: name })));
      }
      part.append(h("h4", { text: fill("reg.face.title", { d: c.face.distance == null ? "–" : Number(c.face.distance).toFixed(3) }) }), faces);
    }
    for (const f of c.fingers) {
      part.append(h("h4", { text: fill("reg.plot.title", { a: finger(f.position), b: finger(f.candidate_position), s: f.score_at_hold == null ? "–" : Number(f.score_at_hold).toFixed(3) }) }));
      if (!f.held_minutiae.length || !f.candidate_minutiae.length) { part.append(h("p", { class: "note", text: t("reg.plot.gone") })); continue; }
      part.append(h("div", { class: "plot-wrap" }, fingerPlot(f, ev.held ? ev.held.name : "?", c.identity ? c.identity.name : "?")));
      part.append(h("p", { class: "note", text: fill("reg.plot.note", { np: f.pairs.length }) }));
    }
    box.append(part);
  }
}

async function loadReviews() {
  const ul = $("review-list"); ul.textContent = ""; say($("reviews-msg"), "");
  objectUrls.splice(0).forEach((u) => URL.revokeObjectURL(u));
  try {
    const page = await api(PAGE, "/v1/biometrics/reviews?status=pending");
    if (!page.items.length) { say($("reviews-msg"), t("dash.noreviews"), "info"); return; }
    for (const r of page.items) {
      const li = h("li", { class: "review", "data-review-id": String(r.id) });
      li.append(h("h3", { text: fill("reg.reviews.item", { name: r.guard_name || "?", kind: tv("modality", r.modality), when: fmtTime(r.created_at) }) }));
      if (r.banned_match) li.append(h("p", { class: "banner red small", text: t("dash.banned") }));
      ul.append(li);
      try { await renderEvidence(li, r); } catch (e) { li.append(h("p", { class: "msg error", text: problemText(e) })); }
      const note = h("input", { maxlength: "500", "aria-label": t("reg.reviews.note.label"), placeholder: t("reg.reviews.note.label") });
      const decide = async (approve) => {
        try {
          await api(PAGE, `/v1/biometrics/reviews/${r.id}/decision`, { method: "POST", json: { approve, note: note.value.trim() || undefined } });
          say($("reviews-msg"), t("dash.done"), "ok"); li.remove();
        } catch (e) { say($("reviews-msg"), problemText(e), "error"); }
      };
      li.append(note, h("div", { class: "buttons" },
        h("button", { type: "button", class: "approve", onclick: () => decide(true) }, t("dash.approve")),
        h("button", { type: "button", class: "reject", onclick: () => decide(false) }, t("dash.reject"))));
    }
  } catch (e) { failBox($("reviews-msg"), e); }
}

// -- issuance queue -------------------------------------------------------------------
async function loadIssuance() {
  const ul = $("request-list"); ul.textContent = ""; say($("issuance-msg"), "");
  try {
    const page = await api(PAGE, "/v1/certificate-requests?status=pending");
    if (!page.items.length) { say($("issuance-msg"), t("dash.norequests"), "info"); return; }
    for (const r of page.items) {
      let g = null, cap = null;
      try { g = await api(PAGE, `/v1/guards/${r.guard_id}`); cap = await api(PAGE, `/v1/guards/${r.guard_id}/biometrics`); } catch (e) { /* shown as unknown */ }
      const li = h("li", { class: "request", "data-request-id": String(r.id) });
      li.append(h("p", {}, h("strong", { text: g ? g.name : `#${r.guard_id}` }), ` · ${g && g.company_name ? g.company_name : "–"} · ${fmtTime(r.created_at)}`));
      li.append(h("p", { class: "note", text: `${t("reg.capture")}: ${cap ? (cap.complete ? t("company.complete") : t("company.incomplete")) : "–"}${r.note ? " · " + r.note : ""}` }));
      const decide = async (approve) => {
        try {
          const res = await api(PAGE, `/v1/certificate-requests/${r.id}/decision`, { method: "POST", json: { approve } });
          say($("issuance-msg"), approve && res.certificate ? fill("reg.issuance.issued", { n: res.certificate.number, name: g ? g.name : "" }) : t("reg.issuance.declined"), "ok");
          li.remove();
        } catch (e) { say($("issuance-msg"), problemText(e), "error"); }
      };
      li.append(h("div", { class: "buttons" },
        h("button", { type: "button", class: "small approve", onclick: () => decide(true) }, t("dash.issue")),
        h("button", { type: "button", class: "small reject", onclick: () => decide(false) }, t("dash.decline"))));
      ul.append(li);
    }
  } catch (e) { failBox($("issuance-msg"), e); }
}

// -- companies ------------------------------------------------------------------------
async function searchCompanies(ev) {
  if (ev) ev.preventDefault();
  const ul = $("company-list"); ul.textContent = ""; say($("companies-msg"), "");
  const q = $("company-q").value.trim();
  try {
    const page = await api(PAGE, `/v1/companies?limit=50${q ? "&q=" + encodeURIComponent(q) : ""}`);
    if (!page.items.length) say($("companies-msg"), t("reg.none"), "info");
    for (const c of page.items) {
      ul.append(h("li", { "data-company-id": String(c.id) },
        h("button", { type: "button", class: "linklike", onclick: () => openCompany(c.id) }, c.name),
        ` · ${c.district} · ${tv("company", c.status)} · ${t("reg.company.grade")} ${c.credit_grade}`));
    }
  } catch (e) { failBox($("companies-msg"), e); }
}

function historyText(changes) {
  return Object.entries(changes || {}).map(([k, v]) => (v && typeof v === "object" && "to" in v) ? `${k}: ${v.from ?? "–"} → ${v.to ?? "–"}` : `${k}`).join("; ");
}

async function openCompany(id) {
  const box = $("company-detail"); box.textContent = ""; box.hidden = false;
  try {
    const [c, hist, lists, credit] = await Promise.all([
      api(PAGE, `/v1/companies/${id}`), api(PAGE, `/v1/companies/${id}/history`),
      api(PAGE, `/v1/companies/${id}/lists`), api(PAGE, `/v1/companies/${id}/credit`)]);
    const flags = ["red_list", "black_list", "abnormal_operations"].filter((k) => c[k]).map((k) => t("reg.list." + k)).join(", ") || "–";
    box.append(h("h3", { text: c.name, "data-company-id": String(c.id) }),
      dl([["reg.company.code", c.credit_code], ["reg.company.licence", c.licence_number], ["reg.company.district", c.district],
        ["reg.company.status", tv("company", c.status)], ["reg.company.grade", `${c.credit_grade} (${credit.total}/${credit.start})`], ["dash.lists.on", flags]]));
    // licence actions
    const op = h("select", { "aria-label": t("reg.company.licenceop") }, ...["suspend", "revoke", "reinstate"].map((o) => h("option", { value: o, text: t("reg.licence." + o) })));
    const reason = h("input", { maxlength: "500", "aria-label": t("dash.reason"), placeholder: t("dash.reason") });
    const msg = h("p", { class: "msg", hidden: true, role: "status" });
    box.append(h("h4", { text: t("reg.company.licenceop") }), h("div", { class: "reg-inline" }, op, reason,
      h("button", { type: "button", class: "small", onclick: async () => {
        if (!reason.value.trim()) { reason.focus(); return; }
        try { await api(PAGE, `/v1/companies/${id}/licence/${op.value}`, { method: "POST", json: { reason: reason.value.trim() } }); say(msg, t("dash.done"), "ok"); openCompany(id); }
        catch (e) { say(msg, problemText(e), "error"); }
      } }, t("reg.apply"))), msg);
    // lists
    const lst = h("select", { "aria-label": t("dash.list") }, ...["red", "black", "abnormal"].map((l) => h("option", { value: l, text: t("dash.list." + l) })));
    const lreason = h("input", { maxlength: "200", "aria-label": t("dash.reason"), placeholder: t("dash.reason") });
    const listAct = async (remove) => {
      if (!lreason.value.trim()) { lreason.focus(); return; }
      try {
        if (remove) await api(PAGE, `/v1/companies/${id}/lists/${lst.value}/remove`, { method: "POST", json: { reason: lreason.value.trim() } });
        else await api(PAGE, `/v1/companies/${id}/lists`, { method: "POST", json: { list: lst.value, reason: lreason.value.trim() } });
        openCompany(id);
      } catch (e) { say(msg, problemText(e), "error"); }
    };
    box.append(h("h4", { text: t("dash.lists") }), h("div", { class: "reg-inline" }, lst, lreason,
      h("button", { type: "button", class: "small", onclick: () => listAct(false) }, t("dash.list.add")),
      h("button", { type: "button", class: "small", onclick: () => listAct(true) }, t("dash.list.remove"))));
    box.append(table(t("dash.lists"), [
      { key: "list", label: "dash.list", render: (r) => t("dash.list." + r.list) }, { key: "reason", label: "dash.reason" },
      { key: "added_on", label: "reg.col.from", render: (r) => fmtDate(r.added_on) }, { key: "removed_on", label: "reg.col.to", render: (r) => r.removed_on ? fmtDate(r.removed_on) : "" }], lists.items));
    // credit ledger
    box.append(h("h4", { text: fill("reg.company.ledger", { y: credit.year, g: credit.grade, total: credit.total }) }),
      table(t("reg.company.ledger.caption"), [
        { key: "occurred_on", label: "reg.col.date", render: (r) => fmtDate(r.occurred_on) }, { key: "points", label: "reg.col.points" },
        { key: "kind", label: "reg.col.kind", render: (r) => tv("credit", r.kind) }, { key: "reason", label: "dash.reason" },
        { key: "dispute", label: "reg.col.dispute", render: (r) => tv("dispute", r.dispute) }], credit.entries));
    const pts = h("input", { type: "number", min: "-1000", max: "1000", required: true, "aria-label": t("reg.col.points") });
    const kind = h("select", { "aria-label": t("reg.col.kind") }, ...["violation", "commendation", "late-filing", "complaint", "inspection-pass", "training", "other"].map((k) => h("option", { value: k, text: tv("credit", k) })));
    const creason = h("input", { maxlength: "500", "aria-label": t("dash.reason"), placeholder: t("dash.reason") });
    const when = h("input", { type: "date", "aria-label": t("reg.col.date"), value: new Date().toISOString().slice(0, 10) });
    box.append(h("div", { class: "reg-inline" }, pts, kind, creason, when, h("button", { type: "button", class: "small", onclick: async () => {
      try { await api(PAGE, `/v1/companies/${id}/credit-events`, { method: "POST", json: { points: Number(pts.value), kind: kind.value, reason: creason.value.trim(), occurred_on: when.value } }); openCompany(id); }
      catch (e) { say(msg, problemText(e), "error"); }
    } }, t("reg.company.addcredit"))));
    // history
    box.append(h("h4", { text: t("reg.company.history") }), table(t("reg.company.history"), [
      { key: "changed_at", label: "reg.col.time", render: (r) => fmtTime(r.changed_at) }, { key: "actor", label: "reg.audit.actor" },
      { key: "changes", label: "reg.col.changes", render: (r) => historyText(r.changes) }], hist.items));
  } catch (e) { box.append(h("p", { class: "msg error", text: problemText(e) })); }
}

// -- guards ---------------------------------------------------------------------------
async function searchGuards(ev) {
  if (ev) ev.preventDefault();
  const ul = $("guard-list"); ul.textContent = ""; say($("guards-msg"), "");
  const q = $("guard-q").value.trim();
  if (!q) return;
  try {
    const res = await api(PAGE, `/v1/console/guards?q=${encodeURIComponent(q)}`);
    if (!res.items.length) say($("guards-msg"), t("reg.none"), "info");
    for (const g of res.items) {
      ul.append(h("li", { "data-guard-id": String(g.id) },
        h("button", { type: "button", class: "linklike", onclick: () => openGuard(g.id) }, g.name),
        ` · ${g.id_number_masked} · ${g.company_name || t("reg.who.noemployer")} · ${tv("guard", g.status)}`));
    }
  } catch (e) { failBox($("guards-msg"), e); }
}

async function openGuard(id) {
  const box = $("guard-detail"); box.textContent = ""; box.hidden = false;
  try {
    const [g, emp, checks, certs, cap, bans] = await Promise.all([
      api(PAGE, `/v1/guards/${id}`), api(PAGE, `/v1/guards/${id}/employment`), api(PAGE, `/v1/guards/${id}/background-checks`),
      api(PAGE, `/v1/guards/${id}/certificates`), api(PAGE, `/v1/guards/${id}/biometrics`), api(PAGE, `/v1/console/guards/${id}/bans`)]);
    box.append(h("h3", { text: g.name, "data-guard-id": String(g.id) }),
      dl([["f.idnumber", g.id_number], ["reg.guard.birth", fmtDate(g.birth_date)], ["reg.guard.level", g.skill_level], ["reg.guard.education", tv("education", g.education)],
        ["reg.guard.status", tv("guard", g.status)], ["reg.who.employer", g.company_name || t("reg.who.noemployer")],
        ["reg.guard.record", `${t("reg.guard.crime")}: ${g.intentional_crime ? t("reg.yes") : t("reg.no")} · ${t("reg.guard.detentions")}: ${g.administrative_detentions ?? "–"}`]]));
    // capture status per named finger
    const fingers = cap.fingers.map((f) => `${finger(f.position)}: ${tv("capture", f.status)}`).join(" · ") || t("reg.guard.nofingers");
    box.append(h("h4", { text: t("reg.capture") }), dl([["company.face", tv("capture", cap.face)], ["company.fingers", fingers],
      ["reg.capture.complete", cap.complete ? t("company.complete") : t("company.incomplete")]]));
    box.append(h("h4", { text: t("reg.guard.employment") }), table(t("reg.guard.employment"), [
      { key: "company_name", label: "reg.who.employer" }, { key: "started_on", label: "reg.col.from", render: (r) => fmtDate(r.started_on) },
      { key: "ended_on", label: "reg.col.to", render: (r) => r.ended_on ? fmtDate(r.ended_on) : "" }, { key: "end_reason", label: "dash.reason" }], emp.items));
    box.append(h("h4", { text: t("reg.guard.checks") }), table(t("reg.guard.checks"), [
      { key: "checked_on", label: "reg.col.date", render: (r) => fmtDate(r.checked_on) }, { key: "result", label: "reg.col.result", render: (r) => tv("check", r.result) },
      { key: "reason", label: "dash.reason" }, { key: "source", label: "reg.col.source", render: (r) => tv("source", r.source) }], checks.items));
    box.append(h("h4", { text: t("reg.bans.title") }), bans.items.length ? banTable(bans.items) : h("p", { class: "note", text: t("reg.who.notbanned") }));
    const msg = h("p", { class: "msg", hidden: true, role: "status" });
    box.append(h("h4", { text: t("reg.guard.certs") }), table(t("reg.guard.certs"), [
      { key: "number", label: "f.number", render: (r) => h("span", { class: "nowrap", text: r.number }) }, { key: "status", label: "reg.guard.status", render: (r) => tv("cert", r.status) },
      { key: "valid_until", label: "reg.col.to", render: (r) => r.expires_at || r.valid_until ? fmtDate(r.expires_at || r.valid_until) : "" },
      { key: "op", label: "reg.col.actions", render: (r) => certActions(r, msg, () => openGuard(id)) }], certs.items), msg);
  } catch (e) { box.append(h("p", { class: "msg error", text: problemText(e) })); }
}

function certActions(cert, msg, again) {
  if (!["valid", "suspended"].includes(cert.status)) return "";
  const reason = h("select", { "aria-label": `${t("dash.reason")} ${cert.number}` },
    ...["misconduct", "background-check-failed", "industry-ban", "lost-device", "left-industry", "issued-in-error", "investigation", "pending-background-check"].map((r) => h("option", { value: r, text: tv("reason", r) })));
  const run = async (op) => {
    try { await api(PAGE, `/v1/certificates/${encodeURIComponent(cert.number)}/${op}`, { method: "POST", json: op === "reinstate" ? undefined : { reason: reason.value } }); say(msg, t("dash.done"), "ok"); again(); }
    catch (e) { say(msg, problemText(e), "error"); }
  };
  return h("span", { class: "reg-inline" }, reason,
    h("button", { type: "button", class: "small reject", onclick: () => run("revoke") }, t("dash.revoke")),
    h("button", { type: "button", class: "small", onclick: () => run("suspend") }, t("dash.suspend")),
    cert.status === "suspended" ? h("button", { type: "button", class: "small approve", onclick: () => run("reinstate") }, t("dash.reinstate")) : null);
}

// -- background-check CSV: sent in chunks, so the page can show progress --------------
const CHUNK = 100;
async function uploadChecks(ev) {
  ev.preventDefault();
  const file = $("checks-file").files[0];
  if (!file) return;
  const text = (await file.text()).replace(/^\uFEFF/, "");
  const all = text.split(/\r?\n/);
  const header = all[0];
  const lines = [];  // [original line number, text]
  all.slice(1).forEach((l, i) => { if (l.trim()) lines.push([i + 2, l]); });
  const report = $("checks-report"); report.textContent = ""; say($("checks-summary"), "");
  const bar = $("checks-progress"); bar.max = Math.max(1, lines.length); bar.value = 0; $("checks-progress-box").hidden = false;
  const rows = []; const totals = { applied: 0, unchanged: 0, rejected: 0, revoked: 0 };
  const progress = (done) => { bar.value = done; $("checks-progress-text").textContent = fill("reg.checks.done", { done, total: lines.length }); };
  progress(0);
  try {
    for (let s = 0; s < lines.length; s += CHUNK) {
      const part = lines.slice(s, s + CHUNK);
      const body = [header, ...part.map((p) => p[1])].join("\n") + "\n";
      const form = new FormData(); form.append("file", new Blob([body], { type: "text/csv" }), file.name);
      const res = await api(PAGE, "/v1/background-checks/import", { method: "POST", form });
      const perLine = res.lines || res.rejected.map((r) => ({ ...r, status: "rejected" }));
      for (const l of perLine) {
        const original = part[l.line - 2] ? part[l.line - 2][0] : l.line;
        rows.push({ line: original, status: l.status, detail: l.status === "rejected" ? l.reason : (l.revoked_certificates && l.revoked_certificates.length ? fill("reg.checks.revoked", { n: l.revoked_certificates.join(", ") }) : "") });
        totals[l.status] = (totals[l.status] || 0) + 1;
      }
      totals.revoked += (res.revoked_certificates || []).length;
      progress(Math.min(lines.length, s + part.length));
    }
  } catch (e) { say($("checks-summary"), problemText(e), "error"); return; }
  rows.sort((a, b) => a.line - b.line);
  say($("checks-summary"), fill("reg.checks.summary", totals), totals.rejected ? "warn" : "ok");
  report.append(table(t("reg.checks.report"), [
    { key: "line", label: "reg.col.line" }, { key: "status", label: "reg.col.result", render: (r) => h("span", { class: "st-" + r.status, text: tv("line", r.status) }) },
    { key: "detail", label: "reg.col.detail" }], rows.map((r) => ({ ...r, __attrs: { "data-line": String(r.line), "data-status": r.status } }))));
}

// -- bans -----------------------------------------------------------------------------
const mask = (n) => n ? n.slice(0, 6) + "********" + n.slice(14) : "–";
function banTable(items, onLift) {
  return table(t("reg.bans.title"), [
    { key: "id_number", label: "f.idnumber", render: (b) => b.id_number_masked || mask(b.id_number) }, { key: "reason", label: "dash.reason" },
    { key: "until_on", label: "reg.col.to", render: (b) => b.until_on ? fmtDate(b.until_on) : t("reg.bans.life") },
    { key: "created_at", label: "reg.col.from", render: (b) => fmtDate(b.created_at) },
    { key: "lifted_at", label: "reg.col.lifted", render: (b) => b.lifted_at ? fmtDate(b.lifted_at) : (onLift ? h("button", { type: "button", class: "small", onclick: () => onLift(b) }, t("reg.bans.lift")) : "") }],
  items.map((b) => ({ ...b, __attrs: { "data-ban-id": String(b.id) } })));
}
async function loadBans() {
  const box = $("ban-list"); box.textContent = "";
  try {
    const page = await api(PAGE, "/v1/bans?limit=200");
    const lift = async (b) => {
      try { await api(PAGE, `/v1/bans/${b.id}/lift`, { method: "POST" }); say($("bans-msg"), t("dash.done"), "ok"); loadBans(); }
      catch (e) { say($("bans-msg"), problemText(e), "error"); }
    };
    box.append(page.items.length ? banTable(page.items.slice().reverse(), lift) : h("p", { class: "note", text: t("reg.none") }));
  } catch (e) { failBox($("bans-msg"), e); }
}
$("ban-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await api(PAGE, "/v1/bans", { method: "POST", json: { id_number: $("ban-id").value.trim().toUpperCase(), reason: $("ban-reason").value.trim(), until_on: $("ban-until").value || undefined } });
    say($("bans-msg"), t("dash.done"), "ok"); $("ban-form").reset(); loadBans();
  } catch (e) { say($("bans-msg"), problemText(e), "error"); }
});

// -- audit ----------------------------------------------------------------------------
let auditCursor = null;
function auditQuery() {
  const p = new URLSearchParams({ order: "desc", limit: "50" });
  const add = (k, v) => { if (v) p.set(k, v); };
  add("action", $("audit-action").value); add("actor", $("audit-actor").value.trim());
  add("target_type", $("audit-ttype").value); add("target_id", $("audit-tid").value.trim());
  if ($("audit-since").value) p.set("since", $("audit-since").value + "T00:00:00Z");
  if ($("audit-until").value) p.set("until", $("audit-until").value + "T23:59:59Z");
  return p;
}
async function loadAudit(more = false) {
  const box = $("audit-table"); say($("audit-msg"), "");
  const p = auditQuery();
  const query = p.toString();
  if (!more) { box.textContent = ""; delete box.dataset.query; }
  if (more && auditCursor) p.set("cursor", String(auditCursor));
  try {
    const page = await api(PAGE, "/v1/audit/events?" + p.toString());
    if (!more) box.textContent = "";
    box.dataset.query = query;  // which filters the rows shown answer
    auditCursor = page.next_cursor; $("audit-more").hidden = page.next_cursor == null;
    if (!page.items.length && !more) { say($("audit-msg"), t("reg.none"), "info"); return; }
    box.append(table(t("reg.audit.title"), [
      { key: "seq", label: "reg.col.seq" }, { key: "occurred_at", label: "reg.col.time", render: (e) => fmtTime(e.occurred_at) },
      { key: "actor", label: "reg.audit.actor" }, { key: "action", label: "reg.audit.action", render: (e) => h("span", {}, tv("action", e.action.split(".")[0]), " ", h("code", { text: e.action })) },
      { key: "target", label: "reg.audit.target", render: (e) => `${tv("target", e.target_type)} ${e.target_id ?? ""}` },
      { key: "data", label: "reg.col.detail", render: (e) => h("code", { class: "small-code", text: JSON.stringify(e.data || {}).slice(0, 160) }) }],
    page.items.map((e) => ({ ...e, __attrs: { "data-seq": String(e.seq), "data-action": e.action } }))));
  } catch (e) { failBox($("audit-msg"), e); }
}
$("audit-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit(false); });
$("audit-more").addEventListener("click", () => loadAudit(true));

// -- keys -----------------------------------------------------------------------------
async function loadKeys() {
  const state = $("trust-state"); state.textContent = "";
  try {
    const k = await api(PAGE, "/v1/console/keys");
    const left = (new Date(k.trust_list.expires_at).getTime() - Date.now()) / 86400000;
    state.append(h("p", { class: "msg " + (left < 1 ? "warn" : "ok"), "data-trust": left < 1 ? "expiring" : "fresh",
      text: fill("reg.keys.trust", { issued: fmtTime(k.trust_list.issued_at), expires: fmtTime(k.trust_list.expires_at), n: k.trust_list.keys, next: k.trust_list.next_trust_list_keys }) }));
    $("key-table").textContent = "";
    $("key-table").append(table(t("reg.keys.title"), [
      { key: "kid", label: "reg.col.kid", render: (r) => h("code", { text: r.kid.slice(0, 16) }) }, { key: "purpose", label: "reg.col.purpose", render: (r) => tv("purpose", r.purpose) },
      { key: "alg", label: "reg.col.alg" }, { key: "state", label: "reg.guard.status", render: (r) => h("span", { class: r.compromised_since ? "st-rejected" : "", text: r.compromised_since ? t("reg.keys.compromised") : tv("keystate", r.state) }) },
      { key: "not_before", label: "reg.col.from", render: (r) => fmtDate(r.not_before) }, { key: "retired_at", label: "reg.col.retired", render: (r) => r.retired_at ? fmtDate(r.retired_at) : "" }],
    k.keys.map((r) => ({ ...r, __attrs: { "data-purpose": r.purpose } }))));
    $("shard-table").textContent = "";
    $("shard-table").append(table(t("reg.keys.shards"), [
      { key: "shard", label: "reg.col.shard" }, { key: "version", label: "reg.col.version" }, { key: "capacity", label: "reg.col.capacity" },
      { key: "published_at", label: "reg.col.published", render: (r) => r.published_at ? fmtTime(r.published_at) : "" }], k.status_lists));
  } catch (e) { failBox($("keys-msg"), e); }
}

// -- overview -------------------------------------------------------------------------
function bars(container, rows, title) {  // rows: [{label, value, max, text}]
  container.textContent = "";
  if (!rows.length) { container.append(h("p", { class: "note", text: "–" })); return; }
  const rowH = 26, labelW = 120, width = 340, barW = width - labelW - 56;
  const el = svg("svg", { viewBox: `0 0 ${width} ${rows.length * rowH + 6}`, role: "img", "aria-label": title, class: "bars" });
  el.append(svg("title", {}, title));
  const max = Math.max(1, ...rows.map((r) => r.max ?? r.value));
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    el.append(svg("text", { x: 0, y: y + 14, class: "bar-label" }, String(r.label).slice(0, 9)));
    el.append(svg("rect", { x: labelW, y, width: barW, height: 16, class: "bar-bg" }));
    el.append(svg("rect", { x: labelW, y, width: Math.max(1, barW * (r.value / (r.max ?? max))), height: 16, class: r.cls || "bar-capture" }));
    el.append(svg("text", { x: labelW + barW + 4, y: y + 13, class: "bar-value" }, r.text ?? String(r.value)));
  });
  container.append(el, table(title, [{ key: "label", label: "reg.col.item" }, { key: "text", label: "reg.col.value", render: (r) => r.text ?? String(r.value) }], rows, { cls: "visually-hidden" }));
}
function columns(container, days, title) {  // days: [{day, ok, other}]
  container.textContent = "";
  const width = 340, height = 120, n = Math.max(1, days.length), w = (width - 20) / n;
  const max = Math.max(1, ...days.map((d) => d.ok + d.other));
  const el = svg("svg", { viewBox: `0 0 ${width} ${height + 20}`, role: "img", "aria-label": title, class: "bars" });
  el.append(svg("title", {}, title));
  days.forEach((d, i) => {
    const x = 10 + i * w, hOk = (d.ok / max) * height, hOther = (d.other / max) * height;
    el.append(svg("rect", { x: x + 1, y: height - hOk, width: Math.max(1, w - 2), height: hOk, class: "bar-cert" }));
    el.append(svg("rect", { x: x + 1, y: height - hOk - hOther, width: Math.max(1, w - 2), height: hOther, class: "bar-warn" }));
    if (i % 2 === 0) el.append(svg("text", { x: x + w / 2, y: height + 14, class: "bar-sub", "text-anchor": "middle" }, d.day.slice(5)));
  });
  container.append(el, table(title, [{ key: "day", label: "reg.col.date" }, { key: "ok", label: "reg.checks.valid" }, { key: "other", label: "reg.checks.other" }], days, { cls: "visually-hidden" }));
}
async function loadOverview() {
  const fig = $("figures"); fig.textContent = ""; say($("overview-msg"), "");
  try {
    const o = await api(PAGE, "/v1/console/overview");
    const sum = (d) => Object.values(d).reduce((a, b) => a + b, 0);
    const items = [["reg.fig.companies", sum(o.companies)], ["reg.fig.guards", o.guards.active || 0], ["reg.fig.valid", o.certificates.valid || 0],
      ["reg.fig.reviews", o.pending.reviews, "#reviews"], ["reg.fig.requests", o.pending.requests, "#issuance"], ["reg.fig.bans", o.active_bans, "#bans"],
      ["reg.fig.black", o.lists.black], ["reg.fig.abnormal", o.lists.abnormal]];
    for (const [k, v, href] of items) fig.append(h("div", { class: "figure" }, h("dt", { text: t(k) }), h("dd", {}, href ? h("a", { href, text: String(v) }) : String(v))));
    const certs = ["valid", "suspended", "revoked", "pending", "failed"].filter((s) => o.certificates[s]).map((s) => ({ label: tv("cert", s), value: o.certificates[s], cls: s === "valid" ? "bar-cert" : s === "suspended" ? "bar-warn" : "bar-bad" }));
    bars($("chart-certs"), certs, t("reg.chart.certs"));
    const byDay = {};
    for (let i = 13; i >= 0; i--) { const d = new Date(Date.now() - i * 86400000).toISOString().slice(0, 10); byDay[d] = { day: d, ok: 0, other: 0 }; }
    for (const c of o.checks) { const d = byDay[c.day]; if (d) { if (c.verdict === "valid") d.ok += c.n; else d.other += c.n; } }
    columns($("chart-checks"), Object.values(byDay), t("reg.chart.checks"));
    const cap = await api(PAGE, "/v1/stats/capture-rate?by=district");
    bars($("chart-capture"), cap.items.map((r) => ({ label: r.label, value: r.capture_rate ?? 0, max: 1, text: r.capture_rate == null ? "–" : `${Math.round(r.capture_rate * 100)}% (${r.captured}/${r.active_guards})` })), t("reg.chart.capture"));
  } catch (e) { failBox($("overview-msg"), e); }
}

// -- exports --------------------------------------------------------------------------
document.querySelectorAll("[data-export]").forEach((b) => b.addEventListener("click", async () => {
  const what = /** @type {HTMLElement} */ (b).dataset.export;
  const path = what === "credit" ? "/v1/credit-export.csv" : `/v1/console/exports/${what}.csv`;
  try { await download(PAGE, path, `guardreg-${what}.csv`); say($("exports-msg"), t("dash.done"), "ok"); }
  catch (e) { say($("exports-msg"), problemText(e), "error"); }
}));

// -- sections -------------------------------------------------------------------------
const LOADERS = { overview: loadOverview, reviews: loadReviews, issuance: loadIssuance, companies: () => searchCompanies(), bans: loadBans, audit: () => loadAudit(false), keys: loadKeys };
async function show() {
  const name = SECTIONS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "overview";
  $("tabs").hidden = !signedIn();
  for (const s of SECTIONS) $(s).hidden = !signedIn() || s !== name;
  document.querySelectorAll("#tabs a").forEach((a) => { if (a.getAttribute("href") === "#" + name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current"); });
  document.body.dataset.section = name;
  delete document.body.dataset.ready;
  if (signedIn() && LOADERS[name]) await LOADERS[name]();
  document.body.dataset.ready = "1";
}
$("company-search").addEventListener("submit", searchCompanies);
$("guard-search").addEventListener("submit", searchGuards);
$("checks-form").addEventListener("submit", uploadChecks);
window.addEventListener("hashchange", show);
document.addEventListener("langchange", show);
setupPage(PAGE, { roles: ["regulator"], totp: true, onSignIn: show, onSignOut: () => location.reload() });
show();
