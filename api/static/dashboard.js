// Regulator dashboard: capture-rate charts (SVG drawn here), duplicate review queue,
// issuance requests, recent revocations, certificate status changes and company lists.
import { setupPage, api, ApiError, t, h, say, keyFor, problemText, fmtTime } from "./lib/common.js";

const PAGE = "dashboard";
/** @type {(id: string) => any} the page's own elements, by id */
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const objectUrls = [];
// Guards and requests are named by opaque public ids (issue 14): show their first 8 characters.
const shortId = (id) => String(id ?? "?").slice(0, 8);

function svg(tag, attrs, text) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text != null) n.textContent = text;
  return n;
}

// Labels fit 120 SVG units: CJK characters are about twice as wide as Latin ones.
function fit(label, room = 15) {
  let w = 0, out = "";
  for (const ch of label) { w += /[\u2E80-\uFFFF]/.test(ch) ? 2 : 1; if (w > room) return out + "…"; out += ch; }
  return out;
}

// Horizontal bars: capture rate (photo + 2 fingers) and certificate rate per group.
function barChart(container, rows, title) {
  container.textContent = "";
  if (!rows.length) { container.append(h("p", { class: "note", text: "–" })); return; }
  const rowH = 46, labelW = 120, width = 340, barW = width - labelW - 50;
  const el = svg("svg", { viewBox: `0 0 ${width} ${rows.length * rowH + 24}`, role: "img", "aria-label": title, class: "bars" });
  el.append(svg("title", {}, title));
  rows.forEach((r, i) => {
    const y = i * rowH + 4;
    const label = String(r.label ?? r.key ?? "–");
    el.append(svg("text", { x: 0, y: y + 16, class: "bar-label" }, fit(label)));
    const cap = r.capture_rate ?? 0, cert = r.certificate_rate ?? 0;
    el.append(svg("rect", { x: labelW, y, width: barW, height: 16, class: "bar-bg" }));
    el.append(svg("rect", { x: labelW, y, width: Math.max(1, barW * cap), height: 16, class: "bar-capture" }));
    el.append(svg("text", { x: labelW + barW + 4, y: y + 13, class: "bar-value" }, `${Math.round(cap * 100)}%`));
    el.append(svg("rect", { x: labelW, y: y + 20, width: barW, height: 10, class: "bar-bg" }));
    el.append(svg("rect", { x: labelW, y: y + 20, width: Math.max(1, barW * cert), height: 10, class: "bar-cert" }));
    el.append(svg("text", { x: labelW + barW + 4, y: y + 30, class: "bar-value small" }, r.certificate_rate == null ? "–" : `${Math.round(cert * 100)}%`));
    el.append(svg("text", { x: 0, y: y + 32, class: "bar-sub" }, `${r.captured}/${r.active_guards}`));
  });
  const ly = rows.length * rowH + 18;
  el.append(svg("rect", { x: 0, y: ly - 10, width: 10, height: 10, class: "bar-capture" }), svg("text", { x: 14, y: ly, class: "bar-sub" }, t("dash.capture")));
  el.append(svg("rect", { x: 150, y: ly - 10, width: 10, height: 10, class: "bar-cert" }), svg("text", { x: 164, y: ly, class: "bar-sub" }, t("dash.certrate")));
  container.append(el);
  const table = h("table", { class: "visually-hidden" }, h("caption", { text: title }),
    ...rows.map((r) => h("tr", {}, h("th", { scope: "row", text: String(r.label) }), h("td", { text: `${r.captured}/${r.active_guards}` }))));
  container.append(table);
}

async function loadCapture() {
  for (const by of ["district", "company"]) {
    const box = $("chart-" + by);
    try {
      const r = await api(PAGE, `/v1/stats/capture-rate?by=${by}`);
      barChart(box, r.items, `${t("dash.capture")} – ${t(by === "district" ? "dash.bydistrict" : "dash.bycompany")}`);
    } catch (e) {
      box.textContent = "";
      box.append(h("p", { class: "msg warn", text: e instanceof ApiError && e.status === 404 ? t("dash.unavailable") : problemText(e) }));
    }
  }
}

async function photoOf(guardId) {
  try {
    const resp = await api(PAGE, `/v1/guards/${guardId}/face/photo`, { raw: true });
    const url = URL.createObjectURL(await resp.blob()); objectUrls.push(url); return url;
  } catch (e) { return null; }
}

function figure(url, caption) {
  return h("figure", { class: "face" },
    url ? h("img", { src: url, alt: caption }) : h("div", { class: "nophoto", text: t("f.nophoto") }),
    h("figcaption", { text: caption }));
}

async function loadReviews() {
  const ul = $("reviews"); ul.textContent = ""; say($("reviews-msg"), "");
  objectUrls.splice(0).forEach((u) => URL.revokeObjectURL(u));
  try {
    const page = await api(PAGE, "/v1/biometrics/reviews?status=pending");
    if (!page.items.length) { say($("reviews-msg"), t("dash.noreviews"), "info"); return; }
    for (const r of page.items) {
      const li = h("li", { class: "review", "data-review-id": String(r.id) });
      const pair = h("div", { class: "pair" });
      li.append(h("p", {}, h("strong", { text: `${t("dash.held")}: ${r.guard_name || "?"} (#${shortId(r.guard_id)})` }), ` · ${t("dash.modality")}: ${r.modality} · ${fmtTime(r.created_at)}`));
      if (r.banned_match) li.append(h("p", { class: "banner red small", text: t("dash.banned") }));
      li.append(h("p", {}, h("a", { href: "/regulator#reviews" }, t("dash.evidence"))));
      li.append(pair);
      pair.append(figure(await photoOf(r.guard_id), `${t("dash.held")} #${shortId(r.guard_id)}`));
      for (const c of r.candidates) {
        const who = c.identity ? `${c.identity.name} (#${c.guard_id ? shortId(c.guard_id) : "?"}, ${c.identity.id_number_masked})` : `#${c.guard_id ? shortId(c.guard_id) : "?"}`;
        const cap = `${t("dash.candidate")} ${who} · ${t("dash.score")} ${Number(c.score).toFixed(3)}${c.banned ? " · " + t("dash.banned") : ""}`;
        pair.append(figure(c.guard_id ? await photoOf(c.guard_id) : null, cap));
      }
      const decide = async (approve) => {
        try { await api(PAGE, `/v1/biometrics/reviews/${r.id}/decision`, { method: "POST", json: { approve } }); say($("reviews-msg"), t("dash.done"), "ok"); loadReviews(); loadCapture(); }
        catch (e) { say($("reviews-msg"), problemText(e), "error"); }
      };
      li.append(h("div", { class: "buttons" },
        h("button", { type: "button", class: "approve", onclick: () => decide(true) }, t("dash.approve")),
        h("button", { type: "button", class: "reject", onclick: () => decide(false) }, t("dash.reject"))));
      ul.append(li);
    }
  } catch (e) { say($("reviews-msg"), problemText(e), "error"); }
}

async function loadRequests() {
  const ul = $("requests"); ul.textContent = ""; say($("requests-msg"), "");
  try {
    const page = await api(PAGE, "/v1/certificate-requests?status=pending");
    if (!page.items.length) { say($("requests-msg"), t("dash.norequests"), "info"); return; }
    for (const r of page.items) {
      const decide = async (approve) => {
        try { await api(PAGE, `/v1/certificate-requests/${r.id}/decision`, { method: "POST", json: { approve } }); loadRequests(); loadCapture(); }
        catch (e) { say($("requests-msg"), problemText(e), "error"); }
      };
      ul.append(h("li", {}, `#${shortId(r.id)} · guard #${shortId(r.guard_id)} · ${fmtTime(r.created_at || r.requested_at)} `, r.note ? `· ${r.note} ` : "",
        h("button", { type: "button", class: "small", onclick: () => decide(true) }, t("dash.issue")), " ",
        h("button", { type: "button", class: "small", onclick: () => decide(false) }, t("dash.decline"))));
    }
  } catch (e) { say($("requests-msg"), problemText(e), "error"); }
}

async function loadRevocations() {
  const ul = $("revocations"); ul.textContent = "";
  try {
    const page = await api(PAGE, "/v1/stats/recent-revocations?limit=20");
    if (!page.items.length) ul.append(h("li", { class: "note", text: t("dash.norevocations") }));
    for (const r of page.items) ul.append(h("li", { class: "rev-" + r.status }, `${r.number} · ${t("v." + r.status)} · ${r.status_reason || ""} · ${fmtTime(r.status_changed_at)}`));
  } catch (e) {
    ul.append(h("li", { class: "msg warn", text: e instanceof ApiError && e.status === 404 ? t("dash.unavailable") : problemText(e) }));
  }
}

let companies = [];
async function loadCompanies() {
  say($("lists-msg"), "");
  try {
    companies = []; let cursor = null;  // the service's opaque next_cursor, passed back as is
    for (let i = 0; i < 20; i++) {  // at most 20 pages
      const page = await api(PAGE, "/v1/companies?" + new URLSearchParams(
        cursor == null ? { limit: "200" } : { limit: "200", cursor }).toString());
      companies.push(...page.items);
      if (page.next_cursor == null) break;
      cursor = page.next_cursor;
    }
    renderCompanies();
  } catch (e) { say($("lists-msg"), problemText(e), "error"); }
}

function renderCompanies() {
  const tb = $("companies"); tb.textContent = "";
  const q = $("company-filter").value.trim().toLowerCase();
  const shown = companies.filter((c) => !q || String(c.id) === q || c.name.toLowerCase().includes(q) ||
    (c.credit_code || "").toLowerCase().includes(q) || (c.district || "").includes(q)).slice(-50).reverse();
  for (const c of shown) {
    const sel = h("select", { "aria-label": `${t("dash.list")} ${c.name}` }, ...["red", "black", "abnormal"].map((l) => h("option", { value: l, text: t("dash.list." + l) })));
    const reason = h("input", { "aria-label": `${t("dash.reason")} ${c.name}`, maxlength: "200", placeholder: t("dash.reason") });
    const act = async (remove) => {
      if (!reason.value.trim()) { reason.focus(); return; }
      try {
        if (remove) await api(PAGE, `/v1/companies/${c.id}/lists/${sel.value}/remove`, { method: "POST", json: { reason: reason.value.trim() } });
        else await api(PAGE, `/v1/companies/${c.id}/lists`, { method: "POST", json: { list: sel.value, reason: reason.value.trim() } });
        say($("lists-msg"), `${t("dash.done")}: ${c.name}`, "ok"); loadCompanies();
      } catch (e) { say($("lists-msg"), e instanceof ApiError && e.status === 404 ? t("dash.unavailable") : problemText(e), "error"); }
    };
    const flags = [c.red_list ? "red" : null, c.black_list ? "black" : null, c.abnormal_operations ? "abnormal" : null]
      .filter(Boolean).map((l) => t("dash.list." + l)).join(", ") || "–";
    tb.append(h("tr", { "data-company-id": String(c.id) }, h("td", { text: String(c.id) }), h("td", { text: `${c.name} (${c.district || ""})` }),
      h("td", { class: "flags", text: flags }),
      h("td", { class: "actions" }, sel, reason,
        h("button", { type: "button", class: "small add", "aria-label": `${t("dash.list.add")} ${c.name}`, onclick: () => act(false) }, t("dash.list.add")),
        h("button", { type: "button", class: "small remove", "aria-label": `${t("dash.list.remove")} ${c.name}`, onclick: () => act(true) }, t("dash.list.remove")))));
  }
}

$("status-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const op = ev.submitter ? ev.submitter.value : "revoke";
  const number = $("s-number").value.trim().toUpperCase();
  try {
    await api(PAGE, `/v1/certificates/${encodeURIComponent(number)}/${op}`, { method: "POST", json: op === "reinstate" ? undefined : { reason: $("s-reason").value } });
    say($("status-msg"), `${t("dash.done")}: ${number} ${op}`, "ok"); loadRevocations();
  } catch (e) { say($("status-msg"), problemText(e), "error"); }
});

async function loadAll() {
  if (!keyFor(PAGE)) return;
  await Promise.all([loadCapture(), loadReviews(), loadRequests(), loadRevocations(), loadCompanies()]);
}
$("company-filter").addEventListener("input", renderCompanies);
// Signed out, the page shows the sign-in only (common.js hides every other part).
setupPage(PAGE, { onSignIn: loadAll, roles: ["regulator"], totp: true }).finally(() => { document.body.dataset.ready = "1"; });
document.addEventListener("langchange", () => { if (keyFor(PAGE)) loadAll(); });
