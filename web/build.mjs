// The pages live in ../api/static (the sources the Python package serves as they are).
// The only build step: vendor the jsQR UMD bundle from node_modules into
// ../api/static/vendor. The service worker's cache name is stamped by api/routers/web.py
// at run time from a hash of the static files.
//   cd web && npm install --no-package-lock && npm run build
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "api", "static", "vendor");
mkdirSync(out, { recursive: true });
// jsQR (Apache-2.0): its licence travels inside the file too.
const jsqrDir = join(here, "node_modules", "jsqr");
const jsqrVersion = JSON.parse(readFileSync(join(jsqrDir, "package.json"), "utf8")).version;
const licence = readFileSync(join(jsqrDir, "LICENSE"), "utf8").replaceAll("*/", "* /");
writeFileSync(join(out, "jsQR.js"),
  `/*! jsQR ${jsqrVersion}, licensed under the Apache License 2.0:\n${licence}\n*/\n`
  + readFileSync(join(jsqrDir, "dist", "jsQR.js"), "utf8"));
cpSync(join(jsqrDir, "LICENSE"), join(out, "jsQR.LICENSE"));
console.log(`vendored jsQR ${jsqrVersion} into ${out}`);
