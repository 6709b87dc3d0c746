// Minimal strict CBOR (RFC 8949) decoder for COSE / CWT, and an encoder for the
// few values the COSE Sig_structure needs. Maps decode to JS Map (keys: numbers or strings).

export class CborError extends Error {}

export function decodeCbor(bytes, { maxDepth = 64 } = {}) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 0;
  const need = (n) => { if (pos + n > b.length) throw new CborError("truncated"); };
  function arg(info) {
    if (info < 24) return info;
    if (info === 24) { need(1); return b[pos++]; }
    if (info === 25) { need(2); const v = dv.getUint16(pos); pos += 2; return v; }
    if (info === 26) { need(4); const v = dv.getUint32(pos); pos += 4; return v; }
    if (info === 27) {
      need(8); const hi = dv.getUint32(pos), lo = dv.getUint32(pos + 4); pos += 8;
      if (hi > 0x1fffff) throw new CborError("integer too large");
      return hi * 2 ** 32 + lo;
    }
    throw new CborError("indefinite lengths are not allowed");
  }
  function item(depth) {
    if (depth > maxDepth) throw new CborError("nesting too deep");
    need(1);
    const ib = b[pos++], major = ib >> 5, info = ib & 31;
    switch (major) {
      case 0: return arg(info);
      case 1: return -1 - arg(info);
      case 2: { const n = arg(info); need(n); const v = b.slice(pos, pos + n); pos += n; return v; }
      case 3: {
        const n = arg(info); need(n);
        const v = new TextDecoder("utf-8", { fatal: true }).decode(b.subarray(pos, pos + n));
        pos += n; return v;
      }
      case 4: { const n = arg(info); const a = []; for (let i = 0; i < n; i++) a.push(item(depth + 1)); return a; }
      case 5: {
        const n = arg(info); const m = new Map();
        for (let i = 0; i < n; i++) {
          const k = item(depth + 1);
          if (typeof k !== "number" && typeof k !== "string") throw new CborError("unsupported map key");
          if (m.has(k)) throw new CborError("duplicate map key");
          m.set(k, item(depth + 1));
        }
        return m;
      }
      case 6: { const tag = arg(info); return { tag, value: item(depth + 1) }; }
      case 7:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 23) return undefined;
        if (info === 25) { need(2); const v = dv.getFloat16 ? dv.getFloat16(pos) : NaN; pos += 2; return v; }
        if (info === 26) { need(4); const v = dv.getFloat32(pos); pos += 4; return v; }
        if (info === 27) { need(8); const v = dv.getFloat64(pos); pos += 8; return v; }
        throw new CborError("unsupported simple value");
      default: throw new CborError("bad major type");
    }
  }
  const value = item(0);
  if (pos !== b.length) throw new CborError("trailing bytes");
  return value;
}

function head(major, n) {
  if (n < 24) return [(major << 5) | n];
  if (n < 0x100) return [(major << 5) | 24, n];
  if (n < 0x10000) return [(major << 5) | 25, n >> 8, n & 255];
  return [(major << 5) | 26, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

// Encode arrays, text strings, byte strings and uint32 (Sig_structure, device proofs).
export function encodeCbor(value) {
  const out = [];
  const put = (v) => {
    if (v instanceof Uint8Array) { out.push(...head(2, v.length)); for (const x of v) out.push(x); }
    else if (typeof v === "string") { const u = new TextEncoder().encode(v); out.push(...head(3, u.length)); for (const x of u) out.push(x); }
    else if (Array.isArray(v)) { out.push(...head(4, v.length)); v.forEach(put); }
    else if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) out.push(...head(0, v));
    else throw new CborError("cannot encode " + typeof v);
  };
  put(value);
  return new Uint8Array(out);
}
