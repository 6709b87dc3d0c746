// Base45 (RFC 9285), strict.
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

export function decodeBase45(text) {
  if (text.length % 3 === 1) throw new Error("base45: bad length");
  const out = [];
  const val = (c) => { const v = ALPHABET.indexOf(c); if (v < 0) throw new Error("base45: bad character"); return v; };
  for (let i = 0; i < text.length; i += 3) {
    if (i + 2 < text.length) {
      const n = val(text[i]) + val(text[i + 1]) * 45 + val(text[i + 2]) * 2025;
      if (n > 0xffff) throw new Error("base45: group too large");
      out.push(n >> 8, n & 255);
    } else {
      const n = val(text[i]) + val(text[i + 1]) * 45;
      if (n > 0xff) throw new Error("base45: group too large");
      out.push(n);
    }
  }
  return new Uint8Array(out);
}

export function encodeBase45(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 2) {
    if (i + 1 < bytes.length) {
      let n = bytes[i] * 256 + bytes[i + 1];
      const e = Math.floor(n / 2025); n %= 2025;
      out += ALPHABET[n % 45] + ALPHABET[Math.floor(n / 45)] + ALPHABET[e];
    } else {
      const n = bytes[i];
      out += ALPHABET[n % 45] + ALPHABET[Math.floor(n / 45)];
    }
  }
  return out;
}
