// The one catalogue (api/static/lib/i18n.js): every key in Chinese (the default) and in
// English, no Chinese value that is just the English one (except codes and numbers), and
// every key the pages name literally (data-i18n attributes, t("...") calls) present.
// Run: node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const HERE = dirname(fileURLToPath(import.meta.url));
const STATIC = join(HERE, "..", "..", "api", "static");
const { STRINGS } = await import(join(STATIC, "lib", "i18n.js"));

// Values that are the same in both languages on purpose: names of formats and codes.
const SAME_ALLOWED = new Set(["app.title.short"]);
const CODE_LIKE = /^[\sA-Z0-9.:/#…()+\-–·,%]*$/;  // "SG1:…", "PDF", "ID-1", numbers

test("every key has Chinese and English", () => {
  const zh = new Set(Object.keys(STRINGS.zh)), en = new Set(Object.keys(STRINGS.en));
  const noZh = [...en].filter((k) => !zh.has(k)).sort();
  const noEn = [...zh].filter((k) => !en.has(k)).sort();
  assert.deepEqual(noZh, [], `missing in Chinese: ${noZh.join(", ")}`);
  assert.deepEqual(noEn, [], `missing in English: ${noEn.join(", ")}`);
});

test("no empty value", () => {
  for (const l of ["zh", "en"]) {
    const empty = Object.entries(STRINGS[l]).filter(([, v]) => typeof v !== "string" || !v.trim()).map(([k]) => k);
    assert.deepEqual(empty, [], `${l}: empty values`);
  }
});

test("a Chinese value is not the English one (codes and numbers aside)", () => {
  const same = Object.keys(STRINGS.zh).filter((k) => STRINGS.en[k] === STRINGS.zh[k]
    && !SAME_ALLOWED.has(k) && !CODE_LIKE.test(STRINGS.zh[k]));
  assert.deepEqual(same, [], `Chinese values left in English: ${same.join(", ")}`);
});

test("a Chinese value is written in Chinese", () => {
  // Latin words may appear (SG1, PDF, API, CSV, TIFF...), but each value has Chinese in it.
  const han = /[\u3400-\u9fff]/;
  const latinOnly = Object.entries(STRINGS.zh).filter(([k, v]) => !han.test(v) && !CODE_LIKE.test(v)
    && !["lang.toggle"].includes(k)).map(([k]) => k);
  assert.deepEqual(latinOnly, [], `Chinese values without Chinese: ${latinOnly.join(", ")}`);
});

test("every key the pages name is in the catalogue", () => {
  const files = readdirSync(STATIC).filter((f) => /\.(html|js)$/.test(f) && f !== "sw.js")
    .map((f) => join(STATIC, f)).concat(readdirSync(join(STATIC, "lib")).filter((f) => f.endsWith(".js")).map((f) => join(STATIC, "lib", f)));
  const named = new Set();
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    for (const m of text.matchAll(/data-i18n(?:-title|-label|-placeholder)?="([a-z0-9_.-]+)"/g)) named.add(m[1]);
    for (const m of text.matchAll(/"data-i18n(?:-title|-label|-placeholder)?":\s*"([a-z0-9_.-]+)"/g)) named.add(m[1]);
    for (const m of text.matchAll(/\bt\("([a-z0-9_.-]+)"\)/g)) named.add(m[1]);
  }
  assert.ok(named.size > 50, `found only ${named.size} keys: the patterns no longer match the pages`);
  const missing = [...named].filter((k) => !(k in STRINGS.zh) || !(k in STRINGS.en)).sort();
  assert.deepEqual(missing, [], `named by a page but not in the catalogue: ${missing.join(", ")}`);
});

test("keys the pages build from values exist (finger positions, statuses, roles)", () => {
  const families = {
    finger: ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"],
    capture: ["enrolled", "held", "rejected", "none"],
    certstatus: ["valid", "suspended", "revoked"],
    annual: ["due", "overdue", "filed", "accepted", "rejected"],
    // registry/auth.py Role
    role: ["regulator", "company_operator", "checkpoint_officer", "guard", "training_unit", "skill_assessor",
      "exam_staff", "association", "market_regulation", "human_resources", "tax"],
    // api/usecases/issuing.py: what a company can be told
    elig: ["no-face", "fingerprints-missing", "no-background-check", "no-exam-pass", "under-age", "no-employer",
      "employer-not-active", "guard-inactive", "enrollment-held", "regulator-bar"],
  };
  const missing = [];
  for (const [family, values] of Object.entries(families)) for (const v of values) {
    const k = `${family}.${v}`;
    if (!(k in STRINGS.zh) || !(k in STRINGS.en)) missing.push(k);
  }
  assert.deepEqual(missing, []);
  assert.equal(STRINGS.zh["finger.1"], "右手拇指");
  assert.equal(STRINGS.en["finger.1"], "right thumb");
});
