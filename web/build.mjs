// Build: copy the ES modules, pages and styles from src/ and the jsQR UMD bundle from
// node_modules into ../api/static (committed; the service needs no npm at run time).
import { cpSync, mkdirSync, rmSync, readFileSync, writeFileSync, readdirSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const out = join(here, "..", "api", "static");
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "vendor"), { recursive: true });
cpSync(src, out, { recursive: true });
// jsQR (Apache-2.0): its licence travels inside the file too (the wheel ships *.js only).
const jsqrDir = join(here, "node_modules", "jsqr");
const jsqrVersion = JSON.parse(readFileSync(join(jsqrDir, "package.json"), "utf8")).version;
const licence = readFileSync(join(jsqrDir, "LICENSE"), "utf8").replaceAll("*/", "* /");
writeFileSync(join(out, "vendor", "jsQR.js"),
  `/*! jsQR ${jsqrVersion} (https://github.com/cozmo/jsQR), licensed under the Apache License 2.0:\n${licence}\n*/\n`
  + readFileSync(join(jsqrDir, "dist", "jsQR.js"), "utf8"));
cpSync(join(jsqrDir, "LICENSE"), join(out, "vendor", "jsQR.LICENSE"));

// The service worker's cache name changes whenever any built file changes.
const hash = createHash("sha256");
const walk = (d) => readdirSync(d).sort().forEach((f) => {
  const p = join(d, f);
  if (statSync(p).isDirectory()) walk(p); else if (f !== "sw.js") hash.update(f).update(readFileSync(p));
});
walk(out);
const id = hash.digest("hex").slice(0, 12);
const sw = join(out, "sw.js");
writeFileSync(sw, readFileSync(sw, "utf8").replace("__BUILD_ID__", id));
console.log(`built ${out} (cache ${id})`);
