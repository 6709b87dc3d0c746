// api/static/lib/exam.js outside a browser: which sessions the public page offers, and
// how it words each answer to an online exam application.
// Run: node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const LIB = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "api", "static", "lib");
const { applicationOutcome, chinaToday, openSessions, sessionLabel } = await import(join(LIB, "exam.js"));

const session = (id, sits_on, seats_left) => ({ id, sits_on, venue: "南开区考点", district: "南开区",
                                                 capacity: 50, registered: 50 - seats_left, seats_left });

test("today is China's date, not the browser's", () => {
  assert.equal(chinaToday(new Date("2026-12-31T15:59:59Z")), "2026-12-31");
  assert.equal(chinaToday(new Date("2026-12-31T16:00:00Z")), "2027-01-01");
});

test("only sessions not over and with a seat, soonest first, each once", () => {
  const items = [session(4, "2027-03-01", 5), session(1, "2026-11-30", 9), session(2, "2026-12-02", 0),
                 session(3, "2026-12-02", 1), session(5, "2026-12-20", 3), session(3, "2026-12-02", 1)];
  assert.deepEqual(openSessions(items, "2026-12-02").map((s) => s.id), [3, 5, 4]);
  assert.deepEqual(openSessions([], "2026-12-02"), []);
});

test("a session's label says day, venue and seats in both languages", () => {
  const label = sessionLabel(session(7, "2026-12-20", 12));
  for (const part of ["2026-12-20", "南开区考点", "余 12 席", "12 seats left"]) assert.ok(label.includes(part), label);
});

test("each answer is worded for the person", () => {
  const sent = applicationOutcome(202, { status: "application-received", code_expires_in_s: 600 }, false);
  assert.equal(sent.kind, "code-sent");
  assert.match(sent.text, /10 分钟/);
  assert.match(sent.text, /10 minutes/);
  // A 202 to a code: wrong, expired or right-but-not-eligible-to-say all read the same.
  const again = applicationOutcome(202, { status: "application-received", code_expires_in_s: 600 }, true);
  assert.equal(again.kind, "code-not-taken");
  assert.match(again.text, /check the code or ask for a new one/);
  const done = applicationOutcome(201, { registration_code: "ABCD-2345", sits_on: "2026-12-20" }, true);
  assert.equal(done.kind, "registered");
  assert.match(done.text, /shown once/);
  const refused = applicationOutcome(422, { title: "Not eligible", detail: "not eligible for the guard exam" }, true);
  assert.deepEqual(refused, { kind: "refused", text: "not eligible for the guard exam" });
  assert.equal(applicationOutcome(409, { title: "Conflict" }, true).text, "Conflict");
  assert.equal(applicationOutcome(502, null, false).text, "HTTP 502");
});
