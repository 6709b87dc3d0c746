// Service worker (scope "/"): keeps the pages, their scripts and the PUBLIC signed lists
// (trust list, status lists) so the scanner and the guard page open offline.
// Network first, cache as fallback: online users always get fresh pages and data.
// Authenticated API responses are never cached here.
const CACHE = "guardreg-__BUILD_ID__";
const SHELL = ["/scan", "/guard", "/static/style.css", "/static/scan.js", "/static/guard.js",
  "/static/lib/common.js", "/static/lib/i18n.js", "/static/lib/verify.js", "/static/lib/cbor.js",
  "/static/lib/base45.js", "/static/lib/datastore.js", "/static/vendor/jsQR.js", "/static/vendor/sm2.js",
  "/static/vendor/qrcode.js", "/static/lib/device.js",
  "/static/manifest.webmanifest", "/static/icon.svg"];
const PUBLIC_DATA = [/^\/v1\/trust-list(\.json)?$/, /^\/v1\/status-lists(\/\d+)?$/];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith("guardreg-") && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

function cacheable(url, req) {
  if (req.method !== "GET" || url.origin !== self.location.origin) return false;
  if (req.headers.get("authorization")) return false;
  const p = url.pathname;
  return ["/scan", "/guard", "/company", "/dashboard"].includes(p) || p.startsWith("/static/") ||
    PUBLIC_DATA.some((re) => re.test(p));
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (!cacheable(url, req)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const resp = await fetch(req);
      if (resp.ok) cache.put(url.pathname + url.search, resp.clone());
      return resp;
    } catch (err) {
      const hit = await cache.match(url.pathname + url.search);
      if (hit) return hit;
      throw err;
    }
  })());
});
