// The pages live in ../api/static (the sources the Python package serves as they are).
// The only build step: vendor the jsQR UMD bundle, sm-crypto's SM2 bundle (SM2/SM3
// signature verification for the optional SM2SM3 profile) and qrcode-generator (the
// guard page draws its rotating QR itself) from node_modules into ../api/static/vendor. The service worker's cache name is stamped by api/routers/web.py
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

// sm-crypto (MIT): its self-contained UMD build of SM2 (with SM3 and jsbn), wrapped as
// an ES module (the UMD sees a CommonJS `module`), imported by lib/verify.js on demand.
const smDir = join(here, "node_modules", "sm-crypto");
const smVersion = JSON.parse(readFileSync(join(smDir, "package.json"), "utf8")).version;
const smLicence = readFileSync(join(smDir, "LICENCE_MIT"), "utf8").replaceAll("*/", "* /");
writeFileSync(join(out, "sm2.js"),
  `/*! sm-crypto ${smVersion} (SM2, dist/sm2.js), licensed under the MIT License:\n${smLicence}\n*/\n`
  + "const module = { exports: {} };\nconst exports = module.exports;\n"
  + readFileSync(join(smDir, "dist", "sm2.js"), "utf8")
  + "\nexport default module.exports;\n");
cpSync(join(smDir, "LICENCE_MIT"), join(out, "sm2.LICENSE"));
console.log(`vendored sm-crypto ${smVersion} (SM2) into ${out}`);

// qrcode-generator (MIT, licence in its header): the guard page's rotating QR code.
const qgDir = join(here, "node_modules", "qrcode-generator");
const qgVersion = JSON.parse(readFileSync(join(qgDir, "package.json"), "utf8")).version;
writeFileSync(join(out, "qrcode.js"),
  `/*! qrcode-generator ${qgVersion} (qrcode.js), MIT License (see its header below) */\n`
  + "const module = { exports: {} };\nconst exports = module.exports;\n"
  + readFileSync(join(qgDir, "qrcode.js"), "utf8")
  + "\nexport default module.exports;\n");
console.log(`vendored qrcode-generator ${qgVersion} into ${out}`);
