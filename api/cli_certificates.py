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


PURPOSE = click.Choice(["certificate", "status-list", "trust-list"])


@keys.command("generate")
@click.option("--purpose", type=PURPOSE, multiple=True,
              help="default: every purpose that has no active key")
@click.option("--alg", type=click.Choice(["ES256", "EdDSA"]), default="ES256", show_default=True)
def keys_generate(purpose: tuple[str, ...], alg: str) -> None:
    """Generate a key (PKCS#8 sealed with GUARDREG_KEY_PASSPHRASE: scrypt + AES-GCM)."""
    ring = _keyring()
    wanted = purpose or tuple(p for p in ("certificate", "status-list", "trust-list")
                              if not [k for k in ring.list_keys(p) if k.state == "active"])
    for p in wanted:
        rec = ring.generate(p, alg)
        click.echo(f"{rec.kid.hex()}  {p:12s} {rec.alg}  active")
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
        click.echo(f"{r.kid.hex():16s}  {r.purpose:12s} {r.alg:6s} {r.state:8s} "
                   f"{_fmt(r.created_at):16s}  {_fmt(r.verifiable_until)}")


@keys.command("rotate")
@click.option("--purpose", type=PURPOSE, required=True)
@click.option("--alg", type=click.Choice(["ES256", "EdDSA"]), default=None)
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
        click.echo(base64.b64encode(r.spki).decode())


# -- sync and verify ------------------------------------------------------------------
def _cache_dir(value: str | None) -> Path:
    return Path(value) if value else Path(get_settings().data_dir) / "offline-cache"


def _fetch(url: str, timeout: float = 10.0) -> bytes:
    if not url.startswith(("http://", "https://")):
        raise click.ClickException(f"not an http(s) URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (checked above)
            data: bytes = resp.read(32 * 1024 * 1024)
            return data
    except (urllib.error.URLError, TimeoutError) as exc:
        raise click.ClickException(f"cannot fetch {url}: {exc}") from exc


def _anchors(cache: Path) -> list[bytes]:
    path = cache / "anchors.json"
    if path.exists():
        return [base64.b64decode(a) for a in json.loads(path.read_text())]
    local = [r.spki for r in _keyring().list_keys("trust-list")]
    if local:
        return local
    raise click.ClickException("no trust anchor: run `guardreg sync --anchor SPKI_B64` first")


@click.command()
@click.option("--server", default=None, help="base URL (default GUARDREG_PUBLIC_BASE_URL)")
@click.option("--cache", "cache_dir", default=None, help="cache directory")
@click.option("--anchor", multiple=True, help="trust-list public key (base64 SPKI) to pin")
def sync(server: str | None, cache_dir: str | None, anchor: tuple[str, ...]) -> None:
    """Cache the trust list and every status list for offline verification."""
    from certificates.cache import OfflineCache
    from certificates.trustlist import verify_trust_list

    base = (server or get_settings().public_base_url).rstrip("/")
    cache_path = _cache_dir(cache_dir)
    cache_path.mkdir(parents=True, exist_ok=True)
    if anchor:
        (cache_path / "anchors.json").write_text(json.dumps(list(anchor)))
    anchors = _anchors(cache_path)
    now = _now()
    token = _fetch(base + "/v1/trust-list")
    verify_trust_list(token, anchors=anchors, now=now)  # refuse to cache a bad list
    cache = OfflineCache(cache_path)
    cache.save_trust_list(token, fetched_at=now)
    index = json.loads(_fetch(base + "/v1/status-lists"))
    for item in index["items"]:
        cache.save_status_list(item["uri"], _fetch(f"{base}/v1/status-lists/{item['shard']}"),
                               fetched_at=now)
    click.echo(f"cached the trust list and {len(index['items'])} status list(s) in {cache_path}")


def _text_from(arg: str) -> str:
    path = Path(arg)
    if len(arg) < 4096 and path.is_file():
        from certificates import qr

        return qr.decode_image(path.read_bytes())
    return arg


@click.command()
@click.argument("text_or_image")
@click.option("--offline", is_flag=True, help="use only the cache made by `guardreg sync`")
@click.option("--server", default=None)
@click.option("--cache", "cache_dir", default=None)
@click.option("--json", "as_json", is_flag=True)
def verify(text_or_image: str, offline: bool, server: str | None, cache_dir: str | None,
           as_json: bool) -> None:
    """Verify a certificate (QR text or an image of the QR); print verdict and data age."""
    from certificates.cache import OfflineCache
    from certificates.errors import CertificateError, Reason, VerificationError
    from certificates.trustlist import verify_trust_list
    from certificates.verification import CachedStatusProvider, VerificationPolicy
    from certificates.verification import verify as verify_text

    settings = get_settings()
    policy = VerificationPolicy.from_settings(settings)
    now = _now()
    cache_path = _cache_dir(cache_dir)
    result: dict[str, Any]
    try:
        text = _text_from(text_or_image)
        if offline:
            cache = OfflineCache(cache_path)
            trust, status = cache.load_verifier_inputs(
                anchors=_anchors(cache_path), now=now,
                max_trust_list_age=policy.max_trust_list_age)
            entry = cache.trust_list()
            fetched = entry.fetched_at if entry else None
        else:
            base = (server or settings.public_base_url).rstrip("/")
            trust = verify_trust_list(_fetch(base + "/v1/trust-list"),
                                      anchors=_anchors(cache_path), now=now)
            index = json.loads(_fetch(base + "/v1/status-lists"))
            tokens = {i["uri"]: _fetch(f"{base}/v1/status-lists/{i['shard']}")
                      for i in index["items"]}
            status = CachedStatusProvider(tokens, trust=trust)
            fetched = now
        verified = verify_text(text, now=now, trust=trust, status=status, policy=policy)
        result = verified.to_json()
        result["verdict"] = "valid"
    except VerificationError as exc:
        result = {"verdict": "stale" if exc.reason in (Reason.STALE_STATUS_LIST,
                                                       Reason.STALE_TRUST_LIST)
                  else exc.reason.value, "reason": exc.reason.value, "detail": exc.detail}
        fetched = locals().get("fetched")
    except CertificateError as exc:
        result = {"verdict": "malformed", "reason": "malformed", "detail": exc.detail}
        fetched = None
    result["mode"] = "offline" if offline else "online"
    if fetched is not None:
        result["data_age_s"] = int((now - fetched).total_seconds())
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
            line += f"  [{result['mode']} data {result['data_age_s']} s old]"
        click.echo(line)
    sys.exit(0 if result["verdict"] == "valid" else 1)


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

    path = Path(cert_arg)
    try:
        der = path.read_bytes() if len(cert_arg) < 1024 and path.is_file() else \
            base64.b64decode(cert_arg, validate=True)
    except (ValueError, OSError) as exc:
        raise click.BadParameter("CERT must be base64 DER or a readable file") from exc
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
