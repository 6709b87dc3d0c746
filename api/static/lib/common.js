// Shared page parts: the page header, sign-in with an account (session cookie + CSRF
// token), API calls, problem+json rendering, DOM helpers.
//
// Signing in: POST /v1/session sets an HttpOnly session cookie the page never sees and a
// readable `guardreg_csrf` cookie whose value goes back as X-CSRF-Token on every change.
// Nothing secret is kept in localStorage (only who was signed in, for offline pages).
import { t, applyI18n, toggleLang, lang } from "./i18n.js";

export { t, lang };

/**
 * @typedef {{ id: number, name: string, role: string, company_id?: number | null,
 *             guard_id?: number | null }} Principal
 * @typedef {{ onSignIn?: () => unknown, onSignOut?: () => unknown, roles?: string[],
 *             gate?: boolean, totp?: boolean, activation?: boolean,
 *             place?: "start" | "end" }} PageOptions
 * @typedef {{ method?: string, json?: unknown, form?: FormData, raw?: boolean,
 *             auth?: boolean }} ApiOptions
 */

/**
 * A DOM element: attributes (`class`, `text`, `on<event>` handlers, others as is) and children.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...any} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") n.className = v;
    else if (k === "text") n.textContent = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null) n.append(c instanceof Node ? c : String(c));
  return n;
}

export class ApiError extends Error {
  /** @param {number} status @param {any} problem */
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || "HTTP " + status);
    this.status = status;
    /** @type {Record<string, any>} */
    this.problem = problem || {};
  }
}

// -- the session --------------------------------------------------------------------------
/** @type {Principal | null} */
let me = null;
let mustChange = false;
let offline = false;
/** @type {string | null} */
let company = null;
/** @type {() => void} */
let rerender = () => {};
/** @type {(why: string) => void} */
let ended = () => {};

/** Who is signed in (null: nobody, or a one-time password still to be changed). */
export function principal() { return me && !mustChange ? me : null; }
/** True once a person is signed in (offline: was signed in on this device). */
export function signedIn() { return !!principal(); }
/** The signed-in company's name (company pages), or null. */
export function companyName() { return company; }
/** Kept for pages written for API keys: "is someone signed in on this page". @param {string} [_page] */
export function keyFor(_page) { return signedIn(); }

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)guardreg_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}

/**
 * Call the API with the session cookie; changes carry X-CSRF-Token. A 401 on a call made
 * while signed in means the session ended (idle, signed out elsewhere): the page says so.
 * @param {string} _page the calling page (kept for compatibility; the session is per site)
 * @param {string} path
 * @param {ApiOptions} [options]
 * @returns {Promise<any>}
 */
export async function api(_page, path, { method = "GET", json, form, raw = false, auth = true } = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (auth && !["GET", "HEAD"].includes(method)) headers["X-CSRF-Token"] = csrfToken();
  /** @type {BodyInit | undefined} */
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  else if (form) body = form;
  const resp = await fetch(path, { method, headers, body, cache: "no-store", credentials: "same-origin" });
  if (!resp.ok) {
    let problem = null;
    try { problem = await resp.json(); } catch (e) { /* not json */ }
    if (auth && resp.status === 401 && me) ended("auth.expired");
    if (auth && resp.status === 403 && problem && problem.reason === "password-change-required") { mustChange = true; rerender(); }
    throw new ApiError(resp.status, problem);
  }
  if (raw) return resp;
  if (resp.status === 204 || resp.headers.get("content-length") === "0") return null;
  const ct = resp.headers.get("content-type") || "";
  return ct.includes("json") ? resp.json() : resp.text();
}

/**
 * A readable explanation of an API error, including quality checks (check/value/limit).
 * @param {unknown} e
 */
export function problemText(e) {
  if (!(e instanceof ApiError)) return t("err.network") + ": " + (e instanceof Error ? e.message : String(e));
  const p = e.problem; const parts = [`${t("err.generic")} ${e.status}: ${p.detail || p.title || ""}`];
  if (p.check != null) parts.push(`${t("company.check")}: ${p.check}`);
  if (p.value != null) parts.push(`${t("company.value")}: ${p.value}`);
  if (p.limit != null) parts.push(`${t("company.limit")}: ${p.limit}`);
  if (Array.isArray(p.errors)) parts.push(p.errors.map((/** @type {any} */ x) => `${x.field}: ${x.message}`).join("; "));
  return parts.join(" · ");
}

/** @param {number | string | Date | null | undefined} v */
export function fmtTime(v) {
  if (v == null) return "";
  const d = typeof v === "number" ? new Date(v * 1000) : new Date(v);
  return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
}
/** @param {number | string | Date | null | undefined} v */
export function fmtDate(v) {
  if (v == null) return "";
  const d = typeof v === "number" ? new Date(v * 1000) : new Date(v);
  return d.toLocaleDateString(lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium" });
}
/** @param {number} seconds */
export function fmtAge(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const zh = lang === "zh";
  if (s < 60) return zh ? `${s} 秒` : `${s} s`;
  if (s < 3600) return zh ? `${Math.floor(s / 60)} 分钟` : `${Math.floor(s / 60)} min`;
  if (s < 86400) return zh ? `${Math.floor(s / 3600)} 小时 ${Math.floor((s % 3600) / 60)} 分钟` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return zh ? `${Math.floor(s / 86400)} 天 ${Math.floor((s % 86400) / 3600)} 小时` : `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/**
 * @param {HTMLElement} node
 * @param {string} text
 * @param {string} [kind]
 */
export function say(node, text, kind = "info") {
  node.textContent = text; node.className = "msg " + kind; node.hidden = !text;
}

/** @param {string} id */
function el(id) { return /** @type {HTMLElement} */ (document.getElementById(id)); }
/** @param {string} id */
function input(id) { return /** @type {HTMLInputElement} */ (document.getElementById(id)); }

// -- the shared header and sign-in markup -----------------------------------------------------
const PAGES = [["/company", "nav.company"], ["/guard", "nav.guard"], ["/scan", "nav.scan"], ["/dashboard", "nav.dashboard"]];

/** @param {string} page @param {string} titleKey */
function header(page, titleKey) {
  const old = document.querySelector("header.top");
  const top = h("header", { class: "top", role: "banner" },
    h("h1", { "data-i18n": titleKey, "data-i18n-title": titleKey, text: t(titleKey) }),
    h("nav", { class: "top-nav", "aria-label": "guardreg", "data-i18n-label": "nav.label" },
      ...PAGES.map(([href, key]) => h("a", { href, "data-i18n": key, "aria-current": href === "/" + page ? "page" : null, text: t(key) }))),
    h("div", { class: "top-who" },
      h("span", { id: "who", class: "who", hidden: true }),
      h("button", { id: "signout", type: "button", class: "small", "data-i18n": "auth.signout", hidden: true, text: t("auth.signout") }),
      h("button", { id: "lang", type: "button", class: "small", "data-i18n": "lang.toggle", "data-i18n-label": "lang.toggle.label", text: t("lang.toggle") })));
  if (old) old.replaceWith(top); else document.body.prepend(top);
}

/** @param {PageOptions} opts */
function signInSection(opts) {
  // Old pages carried an API-key form: it goes.
  const oldForm = document.getElementById("signin");
  if (oldForm) (oldForm.closest("section") || oldForm).remove();
  const field = (/** @type {string} */ id, /** @type {string} */ key, /** @type {Record<string, any>} */ attrs) => [
    h("label", { for: id, "data-i18n": key, text: t(key) }), h("input", { id, ...attrs })];
  return h("section", { id: "auth", class: "card auth", "aria-labelledby": "auth-h" },
    h("h2", { id: "auth-h", "data-i18n": "auth.title", text: t("auth.title") }),
    h("p", { id: "auth-msg", class: "msg", hidden: true, role: "status" }),
    h("form", { id: "signin", "aria-labelledby": "auth-h" },
      ...field("su-user", "auth.username", { name: "username", autocomplete: "username", required: true, maxlength: "80", autocapitalize: "none" }),
      ...field("su-pass", "auth.password", { name: "password", type: "password", autocomplete: "current-password", required: true, maxlength: "256" }),
      h("div", { id: "su-code-box", hidden: !opts.totp },
        ...field("su-code", "auth.code", { name: "code", autocomplete: "one-time-code", inputmode: "numeric", maxlength: "40" }),
        h("p", { class: "note", "data-i18n": "auth.code.note", text: t("auth.code.note") })),
      h("div", { class: "buttons" },
        h("button", { type: "submit", "data-i18n": "auth.signin", text: t("auth.signin") }),
        h("button", { id: "su-code-show", type: "button", class: "small secondary", "data-i18n": "auth.code.show", hidden: !!opts.totp, text: t("auth.code.show") }))),
    h("form", { id: "pwchange", hidden: true, "aria-labelledby": "pw-h" },
      h("h3", { id: "pw-h", "data-i18n": "auth.pw.title", text: t("auth.pw.title") }),
      h("p", { class: "note", "data-i18n": "auth.pw.note", text: t("auth.pw.note") }),
      ...field("pw-current", "auth.pw.current", { type: "password", autocomplete: "current-password", required: true, maxlength: "256" }),
      ...field("pw-new", "auth.pw.new", { type: "password", autocomplete: "new-password", required: true, maxlength: "256", minlength: "10" }),
      ...field("pw-again", "auth.pw.again", { type: "password", autocomplete: "new-password", required: true, maxlength: "256" }),
      h("button", { type: "submit", "data-i18n": "auth.pw.submit", text: t("auth.pw.submit") })),
    opts.activation ? h("details", { id: "activate-box" },
      h("summary", { "data-i18n": "auth.act.title", text: t("auth.act.title") }),
      h("form", { id: "activate" },
        h("p", { class: "note", "data-i18n": "auth.act.note", text: t("auth.act.note") }),
        ...field("act-code", "auth.act.code", { required: true, maxlength: "40", autocomplete: "off", autocapitalize: "characters" }),
        ...field("act-user", "auth.username", { required: true, minlength: "3", maxlength: "40", autocomplete: "username", autocapitalize: "none" }),
        ...field("act-pass", "auth.password", { type: "password", required: true, minlength: "10", maxlength: "256", autocomplete: "new-password" }),
        ...field("act-again", "auth.pw.again", { type: "password", required: true, maxlength: "256", autocomplete: "new-password" }),
        h("button", { type: "submit", "data-i18n": "auth.act.submit", text: t("auth.act.submit") }))) : null);
}

/**
 * "Your sessions": where this account is signed in (device, address, last use), each
 * of the others can be ended from here (a phone left somewhere, a shared computer).
 * @param {string} page
 */
function sessionsSection(page) {
  const list = h("ul", { id: "sessions-list", class: "plain" });
  const msg = h("p", { id: "sessions-msg", class: "msg", hidden: true, role: "status" });
  const load = async () => {
    list.textContent = "";
    try {
      const r = await api(page, "/v1/sessions");
      for (const s of r.items) {
        const li = h("li", { "data-session": s.public_id },
          h("strong", { text: s.current ? t("auth.sessions.this") : (s.user_agent || "?").slice(0, 60) }),
          ` · ${s.address || ""} · ${t("auth.sessions.last")} ${fmtTime(s.last_seen_at)} `);
        if (!s.current) li.append(h("button", { type: "button", class: "small secondary",
          "aria-label": `${t("auth.sessions.end")}: ${s.user_agent || s.public_id}`, onclick: async () => {
            try { await api(page, `/v1/sessions/${encodeURIComponent(s.public_id)}`, { method: "DELETE" }); say(msg, t("auth.sessions.ended"), "ok"); load(); }
            catch (e) { say(msg, problemText(e), "error"); }
          } }, t("auth.sessions.end")));
        list.append(li);
      }
    } catch (e) { say(msg, problemText(e), "error"); }
  };
  const box = h("details", { id: "sessions", class: "card", hidden: true },
    h("summary", { "data-i18n": "auth.sessions", text: t("auth.sessions") }), list, msg);
  box.addEventListener("toggle", () => { if (/** @type {HTMLDetailsElement} */ (box).open) load(); });
  return box;
}

/**
 * The page header (title, navigation, who is signed in, sign-out, language) and the
 * sign-in panel, wired to the session. `gate` (default true): while signed out, every
 * other part of <main> is hidden, so no live control shows. `roles`: the roles this page
 * is for; anyone else is told so and sees nothing else. `totp`: show the code field at
 * once (regulator pages); elsewhere it opens after a refusal or on request.
 * `activation`: the guard page's first-time activation with a one-time code.
 * @param {string} page
 * @param {PageOptions} [opts]
 * @returns {Promise<Principal | null>} who is signed in once the session is known
 */
export async function setupPage(page, opts = {}) {
  const { onSignIn, onSignOut, roles, gate = true, place = "start" } = opts;
  const titleKey = document.body.dataset.title
    || /** @type {HTMLElement | null} */ (document.querySelector("[data-i18n-title]"))?.dataset.i18nTitle || "app.title";
  header(page, titleKey);
  const section = signInSection(opts);
  const main = /** @type {HTMLElement} */ (document.querySelector("main"));
  if (place === "end") main.append(section); else main.prepend(section);
  const sessionsBox = sessionsSection(page);
  main.append(sessionsBox);
  applyI18n();
  el("lang").addEventListener("click", () => toggleLang());
  const msg = el("auth-msg");
  /** @type {string} */
  let lastPassword = "";

  const allowed = () => !!principal() && (!roles || roles.includes(/** @type {Principal} */ (me).role));
  const render = () => {
    const p = principal();
    const ok = allowed();
    el("signin").hidden = !!me;
    el("pwchange").hidden = !(me && mustChange);
    const act = document.getElementById("activate-box");
    if (act) act.hidden = !!me;
    section.hidden = ok;
    sessionsBox.hidden = !ok || offline;
    el("signout").hidden = !me;
    const who = el("who");
    who.hidden = !p;
    who.textContent = p ? [p.name, t("role." + p.role), company].filter(Boolean).join(" · ") : "";
    if (p && !ok) say(msg, t("auth.wrongrole").replace("{role}", t("role." + p.role)), "warn");
    if (gate) for (const child of Array.from(main.children)) {
      if (child === section || child === sessionsBox) continue;
      const c = /** @type {HTMLElement} */ (child);
      if (!ok) { if (!c.hidden) { c.dataset.gated = "1"; c.hidden = true; } }
      else if (c.dataset.gated) { delete c.dataset.gated; c.hidden = false; }
    }
    document.body.dataset.auth = ok ? "in" : (me && mustChange ? "password" : "out");
  };
  rerender = render;

  const afterSignIn = async () => {
    offline = false;
    company = null;
    if (me && me.company_id && !mustChange) {
      try { company = (await api(page, `/v1/companies/${me.company_id}`)).name; } catch (e) { company = null; }
    }
    if (me) localStorage.setItem("gr.who", JSON.stringify({ ...me, company }));
    render();
    if (allowed() && onSignIn) await onSignIn();
  };
  const signedOut = async () => {
    me = null; mustChange = false; company = null; offline = false;
    localStorage.removeItem("gr.who");
    render();
    if (onSignOut) await onSignOut();
  };
  ended = (/** @type {string} */ why) => { say(msg, t(why), "warn"); signedOut(); };

  el("su-code-show").addEventListener("click", () => {
    el("su-code-box").hidden = false; el("su-code-show").hidden = true; input("su-code").focus();
  });
  el("signin").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const code = input("su-code").value.trim();
    const body = { username: input("su-user").value.trim(), password: input("su-pass").value,
      ...(code ? { code } : {}) };
    say(msg, "…", "info");
    try {
      const r = await api(page, "/v1/session", { method: "POST", json: body, auth: false });
      me = r.principal; mustChange = !!r.must_change_password; lastPassword = body.password;
      input("su-pass").value = ""; input("su-code").value = "";
      say(msg, mustChange ? t("auth.pw.required") : "", "warn");
      await afterSignIn();
      if (mustChange) { input("pw-current").value = lastPassword; input("pw-new").focus(); }
    } catch (e) {
      input("su-pass").value = ""; input("su-code").value = "";
      if (e instanceof ApiError && e.status === 401) {
        if (el("su-code-box").hidden) { el("su-code-box").hidden = false; el("su-code-show").hidden = true; say(msg, t("auth.refused.code"), "error"); }
        else say(msg, t("auth.refused"), "error");
      } else if (e instanceof ApiError && e.status === 429) say(msg, t("auth.slow"), "error");
      else say(msg, problemText(e), "error");
      input("su-pass").focus();
    }
  });
  el("pwchange").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (input("pw-new").value !== input("pw-again").value) { say(msg, t("auth.pw.mismatch"), "error"); return; }
    try {
      await api(page, "/v1/session/password", { method: "POST", json: { current_password: input("pw-current").value, new_password: input("pw-new").value } });
      mustChange = false; lastPassword = "";
      ["pw-current", "pw-new", "pw-again"].forEach((id) => { input(id).value = ""; });
      say(msg, t("auth.pw.done"), "ok");
      await afterSignIn();
    } catch (e) { say(msg, problemText(e), "error"); }
  });
  const actForm = document.getElementById("activate");
  if (actForm) actForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (input("act-pass").value !== input("act-again").value) { say(msg, t("auth.pw.mismatch"), "error"); return; }
    const username = input("act-user").value.trim(), password = input("act-pass").value;
    try {
      await api(page, "/v1/accounts/activate", { method: "POST", auth: false, json: { code: input("act-code").value.trim(), username, password } });
      const r = await api(page, "/v1/session", { method: "POST", json: { username, password }, auth: false });
      me = r.principal; mustChange = !!r.must_change_password;
      ["act-code", "act-pass", "act-again"].forEach((id) => { input(id).value = ""; });
      say(msg, t("auth.act.done"), "ok");
      await afterSignIn();
    } catch (e) { say(msg, e instanceof ApiError && e.status === 401 ? t("auth.act.bad") : problemText(e), "error"); }
  });
  el("signout").addEventListener("click", async () => {
    try { await api(page, "/v1/session", { method: "DELETE" }); } catch (e) { /* ended already */ }
    say(msg, t("auth.signedout"), "info");
    await signedOut();
  });
  document.addEventListener("langchange", render);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});

  // Who is signed in: the server knows (the cookie is HttpOnly). Offline, the page trusts
  // what this device last saw, so that cached copies still show; every call then fails.
  try {
    const r = await api(page, "/v1/session", { auth: false });
    me = r.principal; mustChange = !!r.must_change_password;
    await afterSignIn();
  } catch (e) {
    if (e instanceof ApiError) { me = null; localStorage.removeItem("gr.who"); render(); }
    else {
      const seen = JSON.parse(localStorage.getItem("gr.who") || "null");
      if (seen) { offline = true; company = seen.company || null; me = seen; render(); if (allowed() && onSignIn) await onSignIn(); }
      else render();
    }
  }
  return principal();
}

/** True when the session could not be checked (no network) and the page shows a copy. */
export function isOffline() { return offline; }

/**
 * Download a file that needs the session (through fetch, so errors are shown on the page).
 * @param {string} page @param {string} path @param {string} filename
 */
export async function download(page, path, filename) {
  const resp = await api(page, path, { raw: true });
  const url = URL.createObjectURL(await resp.blob());
  const a = h("a", { href: url, download: filename }); document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
