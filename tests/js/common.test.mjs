// api/static/lib/common.js outside a browser: what the page sends (the session cookie is
// the browser's business; the CSRF token on changes only) and how answers are read.
// Run: node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const LIB = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "api", "static", "lib");
globalThis.document = { cookie: "other=1; guardreg_csrf=tok%2Ben; x=2" };
const { api, ApiError, problemText } = await import(join(LIB, "common.js"));

/** A fetch that records its calls and answers with `answer`. */
function fakeFetch(answer) {
  const calls = [];
  globalThis.fetch = async (path, init) => { calls.push({ path, init }); return answer(); };
  return calls;
}
const json = (status, body, type = "application/json") => new Response(body == null ? null : JSON.stringify(body),
  { status, headers: body == null ? {} : { "content-type": type } });

test("changes carry the CSRF token from the readable cookie; reads do not", async () => {
  const calls = fakeFetch(() => json(200, { ok: 1 }));
  assert.deepEqual(await api("company", "/v1/x"), { ok: 1 });
  await api("company", "/v1/x", { method: "POST", json: { a: 1 } });
  await api("company", "/v1/session", { method: "POST", json: {}, auth: false });
  assert.equal(calls[0].init.headers["X-CSRF-Token"], undefined);
  assert.equal(calls[1].init.headers["X-CSRF-Token"], "tok+en");
  assert.equal(calls[1].init.headers["Content-Type"], "application/json");
  assert.equal(calls[1].init.body, '{"a":1}');
  assert.equal(calls[2].init.headers["X-CSRF-Token"], undefined);
  for (const c of calls) {
    assert.equal(c.init.credentials, "same-origin");
    assert.equal(c.init.headers.Authorization, undefined, "no API key from a page");
  }
});

test("204 has no body", async () => {
  fakeFetch(() => new Response(null, { status: 204, headers: { "content-type": "application/json" } }));
  assert.equal(await api("company", "/v1/session/password", { method: "POST", json: {} }), null);
});

test("a problem becomes an ApiError that reads well", async () => {
  fakeFetch(() => json(422, { title: "Not eligible", detail: "no face", reasons: [{ code: "no-face" }] },
    "application/problem+json"));
  await assert.rejects(api("company", "/v1/guards/1/certificate-requests", { method: "POST", json: {} }), (e) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 422);
    assert.equal(e.problem.reasons[0].code, "no-face");
    assert.match(problemText(e), /422: no face/);
    return true;
  });
});
