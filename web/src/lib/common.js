// Shared helpers: API calls with the stored key, problem+json rendering, DOM, sign-in.
import { t, applyI18n, toggleLang, lang } from "./i18n.js";

export { t, lang };

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
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || "HTTP " + status);
    this.status = status; this.problem = problem || {};
  }
}

export function keyFor(page) { return localStorage.getItem("gr.key." + page) || ""; }
export function setKey(page, key) { if (key) localStorage.setItem("gr.key." + page, key); else localStorage.removeItem("gr.key." + page); }

export async function api(page, path, { method = "GET", json, form, raw = false, auth = true } = {}) {
  const headers = {};
  const key = keyFor(page);
  if (auth && key) headers.Authorization = "Bearer " + key;
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  else if (form) body = form;
  const resp = await fetch(path, { method, headers, body, cache: "no-store" });
  if (!resp.ok) {
    let problem = null;
    try { problem = await resp.json(); } catch (e) { /* not json */ }
    throw new ApiError(resp.status, problem);
  }
  if (raw) return resp;
  const ct = resp.headers.get("content-type") || "";
  return ct.includes("json") ? resp.json() : resp.text();
}

// A readable explanation of an API error, including quality checks (check/value/limit).
export function problemText(e) {
  if (!(e instanceof ApiError)) return t("err.network") + ": " + (e && e.message ? e.message : e);
  const p = e.problem; const parts = [`${t("err.generic")} ${e.status}: ${p.detail || p.title || ""}`];
  if (p.check != null) parts.push(`${t("company.check")}: ${p.check}`);
  if (p.value != null) parts.push(`${t("company.value")}: ${p.value}`);
  if (p.limit != null) parts.push(`${t("company.limit")}: ${p.limit}`);
  if (Array.isArray(p.errors)) parts.push(p.errors.map((x) => `${x.field}: ${x.message}`).join("; "));
  return parts.join(" · ");
}

export function fmtTime(v) {
  if (v == null) return "";
  const d = typeof v === "number" ? new Date(v * 1000) : new Date(v);
  return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
}
export function fmtDate(v) {
  if (v == null) return "";
  const d = typeof v === "number" ? new Date(v * 1000) : new Date(v);
  return d.toLocaleDateString(lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium" });
}
export function fmtAge(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const zh = lang === "zh";
  if (s < 60) return zh ? `${s} 秒` : `${s} s`;
  if (s < 3600) return zh ? `${Math.floor(s / 60)} 分钟` : `${Math.floor(s / 60)} min`;
  if (s < 86400) return zh ? `${Math.floor(s / 3600)} 小时 ${Math.floor((s % 3600) / 60)} 分钟` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return zh ? `${Math.floor(s / 86400)} 天 ${Math.floor((s % 86400) / 3600)} 小时` : `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

// Header: language toggle and the sign-in box (API key kept in localStorage).
export function setupPage(page, { onSignIn, onSignOut } = {}) {
  applyI18n();
  const toggle = document.getElementById("lang");
  if (toggle) toggle.addEventListener("click", () => toggleLang());
  const form = document.getElementById("signin");
  const status = document.getElementById("auth-status");
  const out = document.getElementById("signout");
  const render = () => {
    const signed = !!keyFor(page);
    if (form) form.hidden = signed;
    if (out) out.hidden = !signed;
    if (status) status.textContent = signed ? t("auth.signedin") : t("auth.signedout");
  };
  if (form) form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = form.querySelector("input");
    setKey(page, input.value.trim()); input.value = "";
    render();
    if (onSignIn) await onSignIn();
  });
  if (out) out.addEventListener("click", () => { setKey(page, ""); render(); if (onSignOut) onSignOut(); });
  document.addEventListener("langchange", render);
  render();
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
}

export function say(node, text, kind = "info") {
  node.textContent = text; node.className = "msg " + kind; node.hidden = !text;
}

// Download a file that needs the API key (links cannot carry the Authorization header).
export async function download(page, path, filename) {
  const resp = await api(page, path, { raw: true });
  const url = URL.createObjectURL(await resp.blob());
  const a = h("a", { href: url, download: filename }); document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
