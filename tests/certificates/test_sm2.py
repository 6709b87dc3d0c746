"""The optional SM2-with-SM3 profile (``SM2SM3``): the library against the standard's
example, our wrapper's checks, the keyring's per-key algorithm and the HSM hook."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from certfixtures import NOW, URI, make_claims
from gmssl import func, sm2, sm3

from certificates import sm2 as gm
from certificates.cose import decode_guard_sign1, verify_sign1
from certificates.credential import seal, seal_cose
from certificates.errors import KeyringError, Reason, VerificationError
from certificates.keys import ALG_IDS, check_alg_key, kid_from_spki, load_spki
from certificates.signing import Keyring, Signer
from certificates.signing.keyring import KeyRecord
from certificates.signing.signer import Sm2SoftwareSigner, sm2_public_key
from certificates.statuslist import StatusList, sign_status_list
from certificates.trustlist import build_trust_list, sign_trust_list, verify_trust_list
from certificates.verification import CachedStatusProvider, VerificationPolicy, verify


def _h(s: str) -> str:
    return s.replace(" ", "")


def test_gmssl_reproduces_the_gbt_32918_2_annex_a_signature() -> None:
    """GB/T 32918.2-2016 Annex A (GM/T 0003.2 A.2): the example curve, ID
    ALICE123@YAHOO.COM, message "message digest", the given k: Z_A, e, r and s."""
    table = {
        "p": _h("8542D69E 4C044F18 E8B92435 BF6FF7DE 45728391 5C45517D 722EDB8B 08F1DFC3"),
        "a": _h("787968B4 FA32C3FD 2417842E 73BBFEFF 2F3C848B 6831D7E0 EC65228B 3937E498"),
        "b": _h("63E4C6D3 B23B0C84 9CF84241 484BFE48 F61D59A5 B16BA06E 6E12D1DA 27C5249A"),
        "g": _h("421DEBD6 1B62EAB6 746434EB C3CC315E 32220B3B ADD50BDC 4C4E6C14 7FEDD43D"
                "0680512B CBB42C07 D47349D2 153B70C4 E5D7FDFC BFA36EA1 A85841B9 E46E09A2"),
        "n": _h("8542D69E 4C044F18 E8B92435 BF6FF7DD 29772063 0485628D 5AE74EE7 C32E79B7"),
    }
    d = _h("128B2FA8 BD433C6C 068C8D80 3DFF7979 2A519A55 171B1B65 0C23661D 15897263")
    xy = _h("0AE4C779 8AA0F119 471BEE11 825BE462 02BB79E2 A5844495 E97C04FF 4DF2548A"
            "7C0240F8 8F1CD4E1 6352A73C 17B7F16F 07353E53 A176D684 A9FE0C6B B798E857")
    c = sm2.CryptSM2(private_key=d, public_key=xy, ecc_table=table)
    c.public_key = xy
    assert c._kg(int(d, 16), table["g"]).upper() == xy
    uid = b"ALICE123@YAHOO.COM"
    z_in = (len(uid) * 8).to_bytes(2, "big") + uid + bytes.fromhex(
        table["a"] + table["b"] + table["g"] + xy)
    za = sm3.sm3_hash(func.bytes_to_list(z_in))
    assert za.upper() == _h("F4A38489 E32B45B6 F876E3AC 2168CA39 2362DC8F 23459C1D 1146FC3D "
                            "BFB7BC9A")
    e = sm3.sm3_hash(func.bytes_to_list(bytes.fromhex(za) + b"message digest"))
    assert e.upper() == _h("B524F552 CD82B8B0 28476E00 5C377FB1 9A87E6FC 682D48BB 5D42E3D9 "
                           "B9EFFE76")
    k = _h("6CB28D99 385C175C 94F94E93 4817663F C176D925 DD72B727 260DBAAE 1FB2F96F")
    sig = c.sign(bytes.fromhex(e), k)
    assert sig.upper() == _h(
        "40F1EC59 F793D9F4 9E09DCEF 49130D41 94F79FB1 EED2CAA5 5BACDB49 C4E755D1"
        "6FC6DAC3 2C5D5CF1 0C77DFB2 0F7C2EB6 67A45787 2FB09EC5 6327A67E C7DEEBE7")
    assert c.verify(sig, bytes.fromhex(e))


def test_sm3_of_abc() -> None:
    """GB/T 32905 example 1."""
    assert sm3.sm3_hash(func.bytes_to_list(b"abc")) == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")


def test_our_z_digest_is_gmssls_for_the_default_identity() -> None:
    signer = Sm2SoftwareSigner(12345678901234567890, kid=b"k" * 8, purpose="certificate")
    pub = load_spki(signer.public_key_spki())
    assert isinstance(pub, gm.Sm2PublicKey)
    c = gm.crypt(pub)
    assert gm.message_digest(pub, b"hello").hex() == c._sm3_z(b"hello")


def test_sign_verify_and_the_checks_gmssl_leaves_to_us() -> None:
    signer = Sm2SoftwareSigner(0x1234 << 200, kid=b"k" * 8, purpose="certificate")
    pub = load_spki(signer.public_key_spki())
    assert isinstance(pub, gm.Sm2PublicKey) and check_alg_key("SM2SM3", pub) == "SM2SM3"
    sig = signer.sign(b"to be signed")
    assert len(sig) == 64 and gm.verify(pub, b"to be signed", sig)
    assert not gm.verify(pub, b"to be signed!", sig)
    assert not gm.verify(pub, b"to be signed", sig[:32] + bytes(32))  # s = 0
    n = gm.N.to_bytes(32, "big")
    assert not gm.verify(pub, b"to be signed", n + sig[32:])  # r = n
    assert not gm.verify(pub, b"to be signed", sig[:63])
    # another identity than the fixed one does not verify
    assert not gm.verify(pub, b"to be signed", sig, uid=b"ALICE123@YAHOO.COM")
    # a public key whose x starts with hex "04" (gmssl's lstrip pitfall) still works
    for scalar in range(1, 4000):
        p = sm2_public_key(scalar)
        if p.xy.hex().startswith("04"):
            s2 = Sm2SoftwareSigner(scalar, kid=b"k" * 8, purpose="certificate")
            assert gm.verify(p, b"x", s2.sign(b"x"))
            break
    else:  # pragma: no cover
        pytest.fail("no scalar below 4000 gives an x starting with 04")


def test_an_sm2_spki_off_the_curve_is_refused() -> None:
    spki = bytearray(sm2_public_key(7).spki())
    spki[-1] ^= 1
    with pytest.raises(ValueError):
        load_spki(bytes(spki))


def test_keyring_sm2_key_signs_certificates_status_and_trust_lists(tmp_path: Path) -> None:
    """The signing algorithm is a per-key attribute: an SM2 certificate key, an ES256
    status-list key and an SM2 trust-list key in one keyring, one trust list."""
    ring = Keyring(tmp_path / "keys", passphrase=b"pw", certificate_validity=timedelta(days=365))
    start = NOW - timedelta(days=30)
    cert_rec = ring.generate("certificate", "SM2SM3", now=start)
    ring.generate("status-list", "ES256", now=start)
    tl_rec = ring.generate("trust-list", "SM2SM3", now=start)
    assert (tmp_path / "keys" / f"{cert_rec.kid.hex()}.key.sm2").stat().st_mode & 0o077 == 0
    signer = ring.signer("certificate")
    assert signer.alg == "SM2SM3" and isinstance(signer, Signer)
    cose = seal_cose(make_claims(), signer)
    msg = decode_guard_sign1(cose)
    assert msg.protected[1] == ALG_IDS["SM2SM3"] == -65540 and len(msg.signature) == 64
    verify_sign1(msg, load_spki(cert_rec.spki))
    tl = build_trust_list(ring.list_keys(), issuer="guardreg-test", now=NOW,
                          validity=timedelta(days=7))
    trust = verify_trust_list(sign_trust_list(tl, ring.signer("trust-list")),
                              anchors=[tl_rec.spki], now=NOW)
    status = CachedStatusProvider({URI: sign_status_list(
        StatusList(1 << 16), uri=URI, signer=ring.signer("status-list"), now=NOW,
        validity=timedelta(days=1))}, trust=trust)
    text = seal(make_claims(), signer)
    result = verify(text, now=NOW, trust=trust, status=status,
                    policy=VerificationPolicy(allowed_algs=frozenset({"ES256", "SM2SM3"})))
    assert result.alg == "SM2SM3"
    # A wrong passphrase cannot open the SM2 key.
    with pytest.raises(KeyringError):
        Keyring(tmp_path / "keys", passphrase=b"other").signer("certificate")
    # Tampering with the signature is a bad signature.
    bad = text[:-2] + ("0" if text[-2] != "0" else "1") + text[-1]
    with pytest.raises(VerificationError) as info:
        verify(bad, now=NOW, trust=trust, status=status,
               policy=VerificationPolicy(allowed_algs=frozenset({"SM2SM3"})))
    assert info.value.reason in (Reason.BAD_SIGNATURE, Reason.MALFORMED)


class FakeHsm:
    """A stand-in for a hardware module: it holds the scalars, the keyring holds none."""

    def __init__(self) -> None:
        self.scalars: dict[bytes, int] = {}
        self.calls = 0

    def create(self) -> bytes:
        scalar = 0xC0FFEE + len(self.scalars)
        spki = sm2_public_key(scalar).spki()
        self.scalars[kid_from_spki(spki)] = scalar
        return spki

    def signer(self, rec: KeyRecord) -> Signer:
        hsm = self

        class HsmSigner(Signer):
            kid, alg, purpose = rec.kid, rec.alg, rec.purpose

            def sign(self, data: bytes) -> bytes:
                hsm.calls += 1
                inner = Sm2SoftwareSigner(hsm.scalars[rec.kid], kid=rec.kid,
                                          purpose=rec.purpose)
                return inner.sign(data)

            def public_key_spki(self) -> bytes:
                return sm2_public_key(hsm.scalars[rec.kid]).spki()

        return HsmSigner()


def test_a_hardware_module_plugs_in_through_signer_factory(tmp_path: Path) -> None:
    import json

    hsm = FakeHsm()
    spki = hsm.create()
    kid = kid_from_spki(spki)
    rec = KeyRecord(kid=kid, purpose="certificate", alg="SM2SM3", spki=spki, state="active",
                    created_at=NOW, not_before=NOW)
    (tmp_path / f"{kid.hex()}.json").write_text(json.dumps(rec.to_json()))
    ring = Keyring(tmp_path, passphrase=b"unused", signer_factory=hsm.signer)
    signer = ring.signer("certificate")
    verify_sign1(decode_guard_sign1(seal_cose(make_claims(), signer)), load_spki(spki))
    assert hsm.calls == 1
    assert not list(tmp_path.glob("*.key.*"))  # no private key on disk
    # A module answering with another key than the recorded one is refused.
    other = FakeHsm()
    other.scalars[kid] = 0xBAD
    with pytest.raises(KeyringError):
        Keyring(tmp_path, passphrase=b"unused", signer_factory=other.signer).signer(
            "certificate")
