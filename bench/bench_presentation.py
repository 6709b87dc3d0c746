"""Issue 18 figures: the rotating QR (version, EC level), the scanner page's decode rate
on camera-like frames and its offline verification time from frame to verdict, with the
static certificate as the baseline of the same run; SM2SM3 against ES256.

    .venv/bin/python bench/bench_presentation.py [--quick]

The page part runs in headless Chromium (Debian's): the page's own code (vendor/jsQR.js
with the scanner's parameters, lib/verify.js) on camera-like JPEG frames made as in
bench_certificates.py, served from api/static by a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import qrcode
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_certificates import LEVELS, camera_photo  # noqa: E402

from certificates.credential import seal, seal_cose  # noqa: E402
from certificates.cwt import GuardClaims, StatusRef  # noqa: E402
from certificates.presentation import DeviceKey, encode_presentation, proof_input  # noqa: E402
from certificates.signing import Keyring  # noqa: E402
from certificates.statuslist import StatusList, sign_status_list  # noqa: E402
from certificates.trustlist import build_trust_list, sign_trust_list  # noqa: E402

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
URI = "https://gr.example.cn/sl/0"
EC = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
      "Q": qrcode.constants.ERROR_CORRECT_Q}


def qr_png(text: str, level: str, box: int = 6) -> tuple[bytes, int]:
    import io

    q = qrcode.QRCode(error_correction=EC[level], box_size=box, border=4)
    q.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM))
    q.make(fit=True)
    buf = io.BytesIO()
    q.make_image().save(buf)
    return buf.getvalue(), int(q.version)


def claims(idx: int, device: ec.EllipticCurvePrivateKey | None) -> GuardClaims:
    return GuardClaims(
        issuer="guardreg-bench", issued_at=NOW - timedelta(days=1),
        expires_at=NOW + timedelta(days=364), certificate_number=f"12012026{idx:07d}X",
        guard_name="欧阳明华", skill_level=3, status=StatusRef(URI, idx), employer_id=7301,
        employer_name="天津市保安服务总公司河西分公司",
        device_key=DeviceKey.from_public_key(device.public_key()) if device else None)


def present(cose: bytes, device: ec.EllipticCurvePrivateKey) -> str:
    t = int(NOW.timestamp()) // 30 * 30
    r, s = decode_dss_signature(device.sign(proof_input(cose, t, b""),
                                            ec.ECDSA(hashes.SHA256())))
    return encode_presentation(cose, t, b"", r.to_bytes(32, "big") + s.to_bytes(32, "big"))


PAGE_JS = """
async ({frames, trustB64, statusB64, anchorB64, now}) => {
  const v = await import('/lib/verify.js');
  const b = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const trust = await v.verifyTrustList(b(trustB64), [b(anchorB64)], now);
  const statusTokens = [await v.verifyStatusToken(b(statusB64), trust, now)];
  const out = [];
  const c = document.createElement('canvas');
  for (const f of frames) {
    const bmp = await createImageBitmap(await (await fetch('data:image/jpeg;base64,' + f)).blob());
    const t0 = performance.now();  // the frame is there: the scanner's tick() starts here
    const scale = Math.min(1, 800 / Math.max(bmp.width, bmp.height));
    c.width = Math.round(bmp.width * scale); c.height = Math.round(bmp.height * scale);
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bmp, 0, 0, c.width, c.height);
    const img = ctx.getImageData(0, 0, c.width, c.height);
    const code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: 'attemptBoth' });
    if (!code || !code.data) { out.push({ ok: false, ms: performance.now() - t0 }); continue; }
    const r = await v.verifyCertificate(code.data.trim(), { trust, statusTokens, now });
    out.push({ ok: true, verdict: r.reason, ms: performance.now() - t0 });
  }
  return out;
}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    samples = 10 if args.quick else 40
    tmp = Path(tempfile.mkdtemp(prefix="bench-presentation-"))
    ring = Keyring(tmp / "keys", passphrase=b"bench", certificate_validity=timedelta(days=365))
    start = NOW - timedelta(days=30)
    ring.generate("certificate", "ES256", now=start)
    ring.generate("status-list", "ES256", now=start)
    ring.generate("trust-list", "ES256", now=start)
    sm2 = Keyring(tmp / "sm2", passphrase=b"bench", certificate_validity=timedelta(days=365))
    sm2.generate("certificate", "SM2SM3", now=start)
    tl = build_trust_list([*ring.list_keys(), *sm2.list_keys()], issuer="guardreg-bench",
                          now=NOW - timedelta(hours=1), validity=timedelta(days=7))
    trust_token = sign_trust_list(tl, ring.signer("trust-list"))
    status_token = sign_status_list(StatusList(1 << 16), uri=URI, signer=ring.signer(
        "status-list"), now=NOW - timedelta(minutes=5), validity=timedelta(days=1))
    cert = ring.signer("certificate")
    sm2_cert = sm2.signer("certificate")
    device = ec.generate_private_key(ec.SECP256R1())

    print(f"== run {datetime.now(UTC).isoformat(timespec='seconds')} ==")
    print("== QR of the rotating presentation (typical claims) ==")
    static = seal(claims(4242, None), cert)
    live = present(seal_cose(claims(4243, device), cert), device)
    for name, text in (("static SG1 certificate (baseline)", static),
                       ("rotating SGP1 presentation", live)):
        versions = {lvl: qr_png(text, lvl)[1] for lvl in ("L", "M", "Q")}
        print(f"{name:36s} {len(text):4d} chars: version L {versions['L']}, "
              f"M {versions['M']}, Q {versions['Q']}")

    print("== SM2SM3 vs ES256 (Python, gmssl) ==")
    for label, signer in (("ES256", cert), ("SM2SM3", sm2_cert)):
        t0 = time.perf_counter()
        n = 5 if label == "SM2SM3" else 200
        for i in range(n):
            seal(claims(i, None), signer)
        sign_ms = (time.perf_counter() - t0) * 1000 / n
        from certificates.cose import verify_sign1
        from certificates.envelope import decode_text
        from certificates.keys import load_spki
        from certificates.verification import decode_guard_sign1

        msg = decode_guard_sign1(decode_text(seal(claims(1, None), signer)))
        pub = load_spki(signer.public_key_spki())
        t0 = time.perf_counter()
        for _ in range(n):
            verify_sign1(msg, pub)
        print(f"{label:7s}: sign {sign_ms:8.2f} ms, verify "
              f"{(time.perf_counter() - t0) * 1000 / n:8.2f} ms (mean of {n})")

    print("== scanner page (headless Chromium): jsQR decode + offline verify, frame to "
          "verdict ==")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(ROOT / "api" / "static"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    rng = np.random.default_rng(18)
    kinds = {
        "static ES256 (baseline)": lambda i: (seal(claims(i, None), cert), "Q"),
        "rotating ES256, EC M": lambda i: (present(seal_cose(claims(i, device), cert),
                                                   device), "M"),
        "static SM2SM3": lambda i: (seal(claims(i, None), sm2_cert), "Q"),
    }
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--headless=new", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(base + "/index.html")
        page.add_script_tag(url=base + "/vendor/jsQR.js")
        for kind_name, make in kinds.items():
            for level in LEVELS:
                frames = []
                for i in range(samples):
                    text, ec_level = make(1000 + i)
                    frames.append(base64.b64encode(camera_photo(
                        qr_png(text, ec_level)[0], rng, level)).decode())
                res = page.evaluate(PAGE_JS, {
                    "frames": frames, "trustB64": base64.b64encode(trust_token).decode(),
                    "statusB64": base64.b64encode(status_token).decode(),
                    "anchorB64": base64.b64encode(ring.active("trust-list").spki).decode(),
                    "now": int(NOW.timestamp())})
                ok = [r for r in res if r["ok"]]
                valid = [r for r in ok if r["verdict"] == "valid"]
                ms = [r["ms"] for r in valid]
                med = f"{statistics.median(ms):7.1f}" if ms else "    n/a"
                print(f"{kind_name:24s} {level:9s}: decoded {len(ok):3d}/{samples}, valid "
                      f"{len(valid):3d}/{samples}, frame to verdict median {med} ms")
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
