"""``guardreg keys|sync|verify|cose`` commands."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from certificates.signing.keyring import PURPOSES
from registry.settings import get_settings


def _keyring() -> Any:
    from certificates.signing.keyring import Keyring

    s = get_settings()
    return Keyring(Path(s.data_dir) / "keys",
                   certificate_validity=dt.timedelta(days=s.certificate_validity_days))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fmt(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@click.group()
def keys() -> None:
    """Signing keys (certificates, status lists, trust list)."""


PURPOSE = click.Choice(list(PURPOSES))


@keys.command("generate")
@click.option("--purpose", type=PURPOSE, multiple=True,
              help="default: every purpose that has no active key")
@click.option("--alg", type=click.Choice(["ES256", "EdDSA", "SM2SM3"]), default="ES256",
              show_default=True)
def keys_generate(purpose: tuple[str, ...], alg: str) -> None:
    """Generate a key (PKCS#8 sealed with GUARDREG_KEY_PASSPHRASE: scrypt + AES-GCM)."""
    ring = _keyring()
    wanted = purpose or tuple(p for p in PURPOSES
                              if not [k for k in ring.list_keys(p) if k.state == "active"])
    for p in wanted:
        rec = ring.generate(p, alg)
        click.echo(f"{rec.kid.hex()}  {p:12s} {rec.alg}  active")
        if p == "trust-list":  # pre-rotation: announce the next trust-list key now
            nxt = ring.ensure_successor("trust-list")
            click.echo(f"{nxt.kid.hex()}  {p:12s} {nxt.alg}  next (announced by hash)")
    if not wanted:
        click.echo("every purpose already has an active key")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
def keys_list(as_json: bool) -> None:
    """List keys with their validity windows."""
    recs = _keyring().list_keys()
    if as_json:
        click.echo(json.dumps([r.to_json() for r in recs], indent=2))
        return
    click.echo(f"{'kid':16s}  {'purpose':12s} {'alg':6s} {'state':8s} {'created':16s}  "
               "verifiable until")
    for r in recs:
        state = "COMPROMISED" if r.compromised_since else r.state
        click.echo(f"{r.kid.hex():16s}  {r.purpose:12s} {r.alg:6s} {state:8s} "
                   f"{_fmt(r.created_at):16s}  {_fmt(r.verifiable_until)}")


@keys.command("rotate")
@click.option("--purpose", type=PURPOSE, required=True)
@click.option("--alg", type=click.Choice(["ES256", "EdDSA", "SM2SM3"]), default=None)
def keys_rotate(purpose: str, alg: str | None) -> None:
    """New active key; the old one stays verifiable until its certificates expire."""
    rec = _keyring().rotate(purpose, alg)
    click.echo(f"{rec.kid.hex()}  {purpose} {rec.alg} active (previous key retired)")


@keys.command("retire")
@click.argument("kid")
def keys_retire(kid: str) -> None:
    """Stop signing with KID (hex); it stays verifiable for the validity period."""
    try:
        raw = bytes.fromhex(kid)
    except ValueError as exc:
        raise click.BadParameter("KID must be hex") from exc
    rec = _keyring().retire(raw)
    click.echo(f"{rec.kid.hex()} retired; verifiable until {_fmt(rec.verifiable_until)}")


@keys.command("migrate")
def keys_migrate() -> None:
    """Rewrite key files still in the old PBKDF2 format sealed with scrypt (loading a key
    also does it, one key at a time)."""
    done = _keyring().migrate_key_files()
    for kid in done:
        click.echo(f"{kid.hex()}  rewritten (scrypt + AES-GCM)")
    click.echo(f"{len(done)} key file(s) migrated")


@keys.command("export-anchor")
def keys_export_anchor() -> None:
    """Print the trust-list public key(s) (base64 SPKI): the anchor verifiers pin."""
    for r in _keyring().list_keys("trust-list"):
        if r.state != "next" and r.compromised_since is None:
            click.echo(base64.b64encode(r.spki).decode())


@keys.command("announce-successor")
def keys_announce_successor() -> None:
    """Make sure the next trust-list key exists; the trust list publishes its hash
    (pre-rotation), so verifiers can later roll forward to it without trusting the
    network. Keep its private key offline until it is needed."""
    rec = _keyring().ensure_successor("trust-list")
    import hashlib

    click.echo(f"{rec.kid.hex()}  trust-list successor, SPKI SHA-256 "
               f"{hashlib.sha256(rec.spki).hexdigest()}")


def _parse_time(value: str, name: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{name} must be ISO 8601") from exc
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _kid(value: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise click.BadParameter("KID must be hex") from exc
    if len(raw) != 8:
        raise click.BadParameter("KID is 8 bytes (16 hex digits)")
    return raw


def _open() -> Any:
    from api.cert_context import make_context
    from api.runtime import open_runtime

    rt = open_runtime(get_settings())
    rt.certs = make_context(rt.settings)
    return rt


def _reissue_all(rt: Any, kid: bytes, batch: int, actor: Any) -> int:
    """Re-issue every live certificate signed with ``kid``, one transaction per batch
    (resumable: run it again after any interruption), with progress on stderr."""
    from certificates import compromise

    total = None
    done = 0
    while True:
        with rt.db.transaction() as cur:
            result = compromise.reissue_batch(
                cur, actor=actor, now=_now(), kid=kid, signer=rt.certs.signer("certificate"),
                status_signer=rt.certs.signer("status-list"), config=rt.certs.issuance,
                limit=batch)
        done += len(result.reissued)
        if total is None:
            total = done + result.remaining
        click.echo(f"re-issued {done}/{total} live certificate(s) signed with {kid.hex()}",
                   err=True)
        if not result.reissued or result.remaining == 0:
            return done


@keys.command("revoke")
@click.argument("kid")
@click.option("--compromised-since", "since", required=True,
              help="ISO 8601 time from which the key may have leaked (UTC if no zone)")
@click.option("--batch", default=200, show_default=True, type=click.IntRange(1, 5000),
              help="certificates re-issued per transaction")
@click.option("--no-reissue", is_flag=True, help="only mark the key; re-issue later with "
              "`guardreg keys reissue KID`")
def keys_revoke(kid: str, since: str, batch: int, no_reissue: bool) -> None:
    """Declare KID compromised from TIME on: verifiers refuse everything it signed,
    whatever the dates; an active key is replaced; live certificates signed with it are
    re-issued under the current key (status lists re-signed for a status-list key)."""
    from certificates import compromise
    from registry import audit
    from registry.errors import GuardregError

    raw = _kid(kid)
    when = _parse_time(since, "--compromised-since")
    rt = _open()
    actor = audit.Actor("cli")
    try:
        with rt.db.transaction() as cur:
            declared = compromise.declare(cur, ring=rt.certs.keyring, actor=actor, kid=raw,
                                          since=when, now=_now())
        rt.certs.forget()
        click.echo(f"{raw.hex()} ({declared.purpose}) marked compromised since "
                   f"{when.isoformat()}")
        if declared.replacement is not None:
            click.echo(f"replaced by {declared.replacement.kid.hex()}")
        if declared.purpose == "status-list":
            with rt.db.transaction() as cur:
                n = compromise.republish_all(cur, signer=rt.certs.signer("status-list"),
                                             config=rt.certs.issuance.status, now=_now())
            click.echo(f"re-signed {n} status list(s) with the new status-list key")
        elif declared.purpose == "certificate" and not no_reissue:
            _reissue_all(rt, raw, batch, actor)
        with rt.db.transaction(readonly=True) as cur:
            rep = compromise.report(cur, ring=rt.certs.keyring, kid=raw, now=_now())
    except GuardregError as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        rt.close()
    click.echo(f"signed by this key since {when.isoformat()}: "
               f"{rep.get('signed_since', 0)} certificate(s); live left under it: "
               f"{rep.get('live_remaining', 0)}; report: guardreg keys report {raw.hex()}")


@keys.command("reissue")
@click.argument("kid")
@click.option("--batch", default=200, show_default=True, type=click.IntRange(1, 5000))
def keys_reissue(kid: str, batch: int) -> None:
    """Resume re-issuing the live certificates signed with a compromised KID."""
    from registry import audit
    from registry.errors import GuardregError

    raw = _kid(kid)
    rt = _open()
    try:
        rec = rt.certs.keyring.get(raw)
        if rec.compromised_since is None:
            raise click.ClickException("this key has not been declared compromised")
        _reissue_all(rt, raw, batch, audit.Actor("cli"))
    except GuardregError as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        rt.close()


@keys.command("report")
@click.argument("kid")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100000))
def keys_report(kid: str, limit: int) -> None:
    """JSON report of a compromised key: what it signed since it may have leaked and
    the online checks that forgeries would leave behind."""
    from certificates import compromise
    from registry.errors import GuardregError

    raw = _kid(kid)
    rt = _open()
    try:
        with rt.db.transaction(readonly=True) as cur:
            rep = compromise.report(cur, ring=rt.certs.keyring, kid=raw, now=_now(),
                                    limit=limit)
    except GuardregError as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        rt.close()
    click.echo(json.dumps(rep, default=str, ensure_ascii=False, indent=2))


@keys.command("normalize-signatures")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10000))
def keys_normalize_signatures(batch: int) -> None:
    """Once, after upgrading to low-s signing: rewrite the stored text of every live
    certificate whose ES256 signature is high-s to its low-s twin (verifiers refuse
    high-s). No key needed; numbers and claims unchanged. Resumable."""
    from certificates import hygiene
    from registry import audit

    rt = _open()
    after, scanned, changed = 0, 0, 0
    try:
        while True:
            with rt.db.transaction() as cur:
                step = hygiene.normalize_batch(cur, actor=audit.Actor("cli"), now=_now(),
                                               after_id=after, limit=batch)
            scanned += step.scanned
            changed += len(step.changed)
            after = step.last_id
            click.echo(f"scanned {scanned}, rewritten {changed}", err=True)
            if step.scanned < batch:
                break
    finally:
        rt.close()
    click.echo(f"{changed} of {scanned} live certificate(s) rewritten to low-s; "
               "their holders' pages show the new QR (reprint those cards)")


# -- sync and verify ------------------------------------------------------------------
def _cache_dir(value: str | None) -> Path:
    from api.cli_config import cache_dir

    return cache_dir(value)


def _base(server: str | None) -> str:
    from api.cli_config import base_url

    return base_url(server, get_settings())


def _fetch(url: str, timeout: float = 10.0) -> bytes:
    if not url.startswith(("http://", "https://")):
        raise click.ClickException(f"not an http(s) URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (checked above)
            data: bytes = resp.read(32 * 1024 * 1024)
            return data
    except (urllib.error.URLError, TimeoutError) as exc:
        raise click.ClickException(
            f"cannot fetch {url}: {exc}. Is the service running there? `guardreg serve` "
            "records its URL for this user; otherwise pass --server URL or set "
            "GUARDREG_PUBLIC_BASE_URL") from exc


def _pins(cache_path: Path) -> Any:
    """The verifier's pins: those of the cache (set by `sync --anchor`, rolled forward
    by sync), else the local keyring's usable trust-list keys (on the service host)."""
    from certificates.cache import OfflineCache
    from certificates.trustlist import TrustPins

    pins = OfflineCache(cache_path).pins()
    if pins is not None and pins.anchors:
        return pins
    local = tuple(r.spki for r in _keyring().list_keys("trust-list")
                  if r.state != "next" and r.compromised_since is None)
    if local:
        return TrustPins(local)
    from api.cli_config import recorded_anchors

    recorded = tuple(base64.b64decode(a) for a in recorded_anchors())
    if recorded:
        return TrustPins(recorded)
    raise click.ClickException(
        "no trust anchor: pin the service's trust-list key once with "
        "`guardreg sync --anchor SPKI_B64` (the service's operator prints it with "
        "`guardreg keys export-anchor`)")


def _age(now: dt.datetime, iat: int | None) -> str:
    return "-" if iat is None else f"{int(now.timestamp()) - iat} s"


@click.command()
@click.option("--server", default=None,
              help="base URL (default: GUARDREG_PUBLIC_BASE_URL, else the URL `guardreg "
                   "serve` recorded for this user, else http://127.0.0.1:8000)")
@click.option("--cache", "cache_dir", default=None,
              help="cache directory (default: the per-user cache, ~/.cache/guardreg)")
@click.option("--anchor", multiple=True,
              help="trust-list public key (base64 SPKI) to pin on first use")
@click.option("--repin", is_flag=True,
              help="replace the pins the cache holds with --anchor (after a manual re-key)")
def sync(server: str | None, cache_dir: str | None, anchor: tuple[str, ...],
         repin: bool) -> None:
    """Cache the trust list and every status list for offline verification. Every list
    is verified (signature, role, expiry) and must be at least as new as the one held;
    anything refused leaves the cache as it was, is reported, and exits 1."""
    from certificates.cache import OfflineCache
    from certificates.errors import VerificationError
    from certificates.trustlist import TrustPins

    base = _base(server)
    cache_path = _cache_dir(cache_dir)
    cache_path.mkdir(parents=True, exist_ok=True)
    cache = OfflineCache(cache_path)
    if anchor:
        try:
            wanted = tuple(base64.b64decode(a, validate=True) for a in anchor)
        except ValueError as exc:
            raise click.BadParameter("--anchor must be base64 DER SPKI") from exc
        held = cache.pins()
        if held is None or not held.anchors or repin:
            cache.set_pins(TrustPins(wanted))
        elif held.anchors != wanted:
            # The cache may have rolled forward from this very anchor: pinning it again
            # would undo that. Re-pinning by hand takes --repin.
            click.echo("the cache already pins another trust-list key (rolled forward?); "
                       "--anchor ignored (use --repin to replace the pins)", err=True)
    pins = _pins(cache_path)
    now = _now()
    try:
        trust = cache.accept_trust_list(_fetch(base + "/v1/trust-list"), now=now, pins=pins)
    except VerificationError as exc:
        click.echo(f"REFUSED the trust list ({exc.reason.value}: {exc.detail}); "
                   "the cache is unchanged", err=True)
        sys.exit(1)
    new_pins = cache.pins()
    if new_pins is not None and new_pins.anchors != pins.anchors:
        click.echo("rolled forward to the pre-announced trust-list key "
                   + ", ".join(base64.b64encode(a).decode()[:24] + "..."
                               for a in new_pins.anchors))
    try:
        items = json.loads(_fetch(base + "/v1/status-lists"))["items"]
        shards = [(int(i["shard"]), str(i["uri"])) for i in items]
    except (ValueError, KeyError, TypeError) as exc:
        raise click.ClickException("the status list index is malformed") from exc
    refused = []
    for shard, uri in shards:
        try:
            cache.accept_status_list(_fetch(f"{base}/v1/status-lists/{shard}"), trust=trust,
                                     now=now, uri=uri)
        except VerificationError as exc:
            refused.append(uri)
            click.echo(f"REFUSED status list {uri} ({exc.reason.value}: {exc.detail}); "
                       "the cached copy is kept", err=True)
    ages = {uri: _age(now, c.issued_at) for uri, c in cache.status_lists().items()}
    click.echo(f"trust list signed {_age(now, int(trust.issued_at.timestamp()))} ago; "
               f"{len(shards) - len(refused)} of {len(shards)} status list(s) accepted in "
               f"{cache_path}")
    for uri, age in sorted(ages.items()):
        click.echo(f"  {uri}: signed {age} ago")
    sys.exit(1 if refused else 0)


def looks_like_certificate_text(arg: str, prefix: str) -> bool:
    """Certificate text, decided by content: the prefix, or a long run of Base45."""
    import re

    return arg.startswith(prefix) or (
        len(arg) > 64 and re.fullmatch(r"[0-9A-Z $%*+\-./:]+", arg) is not None)


def is_existing_file(arg: str) -> bool:
    """``arg`` names an existing file. Never raises (a 5,000-character certificate
    text is not a file name, and the OS says so with ENAMETOOLONG)."""
    import os

    if "\0" in arg or len(arg) > 4096 or any(len(part) > 255 for part in arg.split(os.sep)):
        return False
    return os.path.isfile(arg)


def _text_from(arg: str, prefix: str) -> str:
    if looks_like_certificate_text(arg, prefix) or not is_existing_file(arg):
        return arg
    from certificates import qr

    return qr.decode_image(Path(arg).read_bytes())


@click.command()
@click.argument("text_or_image")
@click.option("--offline", is_flag=True, help="use only the cache made by `guardreg sync`")
@click.option("--server", default=None)
@click.option("--cache", "cache_dir", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.option("--challenge", default=None,
              help="the challenge shown to the guard's phone (rotating presentations)")
def verify(text_or_image: str, offline: bool, server: str | None, cache_dir: str | None,
           as_json: bool, challenge: str | None) -> None:
    """Verify a certificate or a guard phone's rotating presentation (QR text or an image
    of the QR); print verdict and the age of the signed data used (from the lists' own
    issue times)."""
    from certificates.cache import OfflineCache
    from certificates.errors import CertificateError, Reason, VerificationError
    from certificates.trustlist import verify_trust_list_pinned
    from certificates.verification import CachedStatusProvider, VerificationPolicy, parse
    from certificates.verification import verify as verify_text

    settings = get_settings()
    policy = VerificationPolicy.from_settings(settings)
    now = _now()
    cache_path = _cache_dir(cache_dir)
    result: dict[str, Any]
    oldest: int | None = None
    floor: dt.datetime | None = None
    try:
        text = _text_from(text_or_image, policy.prefix)
        parse(text, policy)  # garbage is refused as such, before any data is needed
        if offline:
            cache = OfflineCache(cache_path)
            oldest = cache.oldest_issued_at()
            trust, status = cache.load_verifier_inputs(
                now=now, anchors=None if cache.pins() else _pins(cache_path).anchors,
                max_trust_list_age=policy.max_trust_list_age, skew=policy.clock_skew,
                max_clock_ahead=policy.max_clock_ahead)
            floor = cache.clock_floor()
        else:
            base = _base(server)
            trust, _ = verify_trust_list_pinned(_fetch(base + "/v1/trust-list"),
                                                pins=_pins(cache_path), now=now)
            index = json.loads(_fetch(base + "/v1/status-lists"))
            tokens = {i["uri"]: _fetch(f"{base}/v1/status-lists/{int(i['shard'])}")
                      for i in index["items"]}
            status = CachedStatusProvider(tokens, trust=trust)
            oldest = int(trust.issued_at.timestamp())
        verified = verify_text(text, now=now, trust=trust, status=status, policy=policy,
                               clock_floor=floor,
                               challenge=challenge.encode() if challenge else None)
        result = verified.to_json()
        result["verdict"] = "valid"
        if verified.presentation == "card":  # the printed card: compare the photo
            result["verdict"], result["detail"] = "card", "card: compare the photo"
        if verified.status_list_age is not None:
            oldest = int((now - verified.status_list_age).timestamp())
    except VerificationError as exc:
        result = {"verdict": "stale" if exc.reason in (Reason.STALE_STATUS_LIST,
                                                       Reason.STALE_TRUST_LIST)
                  else exc.reason.value, "reason": exc.reason.value, "detail": exc.detail}
    except CertificateError as exc:
        result = {"verdict": "malformed", "reason": "malformed", "detail": exc.detail}
        oldest = None
    result["mode"] = "offline" if offline else "online"
    if oldest is not None:
        result["data_age_s"] = int(now.timestamp()) - oldest
    if as_json:
        click.echo(json.dumps(result, default=str, ensure_ascii=False))
    else:
        line = f"{result['verdict'].upper()}"
        claims = result.get("claims") or {}
        if claims:
            line += f"  {claims.get('certificate_number')}  {claims.get('guard_name')}" \
                    f"  level {claims.get('skill_level')}  {claims.get('employer_name')}"
        if "detail" in result:
            line += f"  ({result['detail']})"
        if "data_age_s" in result:
            line += f"  [{result['mode']} data signed {result['data_age_s']} s ago]"
        click.echo(line)
    sys.exit(0 if result["verdict"] in ("valid", "card") else 1)


def _cert_bytes(arg: str) -> bytes:
    """A signer certificate given as base64 DER, PEM text, or a file name: decided by
    content first (a long base64 argument is never tried as a file name)."""
    import binascii

    text = arg.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        der = b""
    if len(der) > 32 and der[0] == 0x30:  # a DER SEQUENCE: an X.509 certificate
        return der
    if is_existing_file(arg):
        try:
            return Path(arg).read_bytes()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {arg}: {exc.strerror}") from exc
    raise click.BadParameter("CERT must be base64 DER, PEM, or a readable file")


@click.group()
def cose() -> None:
    """Generic COSE/CWT tools (EU DCC conformance)."""


@cose.command("verify")
@click.option("--cert", "cert_arg", required=True, help="signer certificate: base64 DER or file")
@click.option("--at", "at_arg", required=True, help="validation time (ISO 8601; UTC if no zone)")
@click.argument("text")
def cose_verify(cert_arg: str, at_arg: str, text: str) -> None:
    """Verify an HC1: text against a signer certificate; JSON verdict, exit 0 if valid."""
    from certificates.dcc import verify_dcc

    der = _cert_bytes(cert_arg)
    if der.startswith(b"-----BEGIN"):
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        der = x509.load_pem_x509_certificate(der).public_bytes(Encoding.DER)
    try:
        at = dt.datetime.fromisoformat(at_arg.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter("--at must be ISO 8601") from exc
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    verdict = verify_dcc(text, der, at)
    click.echo(json.dumps(verdict, default=str, ensure_ascii=False))
    sys.exit(0 if verdict.get("valid") else 1)
