from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from certificates.cose import (
    decode_sign1,
    encode_sign1,
    sig_structure,
    verify_sign1,
)
from certificates.errors import AlgorithmMismatch, BadSignature, DecodeError, Malformed
from certificates.keys import kid_of
from certificates.signing.signer import Signer, SoftwareSigner


def _es256() -> tuple[Signer, ec.EllipticCurvePublicKey]:
    k = ec.generate_private_key(ec.SECP256R1())
    signer = SoftwareSigner(k, kid=kid_of(k.public_key()), alg="ES256", purpose="certificate")
    return signer, k.public_key()


def _eddsa() -> tuple[Signer, ed25519.Ed25519PublicKey]:
    k = ed25519.Ed25519PrivateKey.generate()
    signer = SoftwareSigner(k, kid=kid_of(k.public_key()), alg="EdDSA", purpose="certificate")
    return signer, k.public_key()


@pytest.mark.parametrize("make", [_es256, _eddsa])
@pytest.mark.parametrize("tag", [True, False])
@pytest.mark.parametrize("kid_in_protected", [True, False])
def test_sign_verify_roundtrip(make, tag: bool, kid_in_protected: bool) -> None:  # type: ignore[no-untyped-def]
    signer, pub = make()
    msg = encode_sign1(b"payload", alg=signer.alg, kid=signer.kid, sign=signer.sign,
                       tag=tag, kid_in_protected=kid_in_protected)
    assert (msg[0] == 0xD2) is tag
    s1 = decode_sign1(msg)
    assert s1.payload == b"payload"
    assert s1.kid == signer.kid
    assert s1.kid_in_protected is kid_in_protected
    assert len(s1.signature) == 64
    verify_sign1(s1, pub)


def test_sig_structure_is_rfc9052() -> None:
    assert cbor2.loads(sig_structure(b"\xa1\x01\x26", b"x")) == ["Signature1", b"\xa1\x01\x26",
                                                                  b"", b"x"]


def test_bit_flips_break_signature() -> None:
    signer, pub = _es256()
    msg = decode_sign1(encode_sign1(b"hello world", alg="ES256", kid=signer.kid,
                                    sign=signer.sign))
    from dataclasses import replace

    bad_payload = replace(msg, payload=b"hello worle")
    with pytest.raises(BadSignature):
        verify_sign1(bad_payload, pub)
    sig = bytearray(msg.signature)
    sig[10] ^= 1
    with pytest.raises(BadSignature):
        verify_sign1(replace(msg, signature=bytes(sig)), pub)


def test_algorithm_must_match_key() -> None:
    signer, _ = _es256()
    _, ed_pub = _eddsa()
    msg = decode_sign1(encode_sign1(b"x", alg="ES256", kid=signer.kid, sign=signer.sign))
    with pytest.raises(AlgorithmMismatch):
        verify_sign1(msg, ed_pub)
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(AlgorithmMismatch):
        verify_sign1(msg, p384)


def test_ps256_verify_only() -> None:
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def sign(data: bytes) -> bytes:
        return k.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                      hashes.SHA256())

    msg = decode_sign1(encode_sign1(b"dcc", alg="PS256", kid=b"12345678", sign=sign))
    verify_sign1(msg, k.public_key())
    assert msg.alg == "PS256"


def _raw(arr: object, tag: bool = True) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(18, arr) if tag else arr)


PROT = cbor2.dumps({1: -7, 4: b"kid12345"})


@pytest.mark.parametrize(
    ("data", "stage"),
    [
        (b"", Malformed.CBOR),
        (b"\xff", Malformed.CBOR),
        (_raw([PROT, {}, b"p", b"s" * 64]) + b"\x00", Malformed.CBOR),
        (_raw([PROT, {}, b"p"]), Malformed.COSE),
        (_raw([PROT, {}, b"p", b"s" * 64, 1]), Malformed.COSE),
        (cbor2.dumps(cbor2.CBORTag(98, [PROT, {}, b"p", b"s" * 64])), Malformed.COSE),
        (_raw({"a": 1}), Malformed.COSE),
        (_raw(["prot", {}, b"p", b"s" * 64]), Malformed.COSE),
        (_raw([PROT, [], b"p", b"s" * 64]), Malformed.COSE),
        (_raw([PROT, {}, None, b"s" * 64]), Malformed.COSE),
        (_raw([PROT, {}, b"p", "sig"]), Malformed.COSE),
        (_raw([PROT, {}, b"p", b"s" * 63]), Malformed.COSE),
        (_raw([cbor2.dumps([1]), {}, b"p", b"s" * 64]), Malformed.COSE),
        (_raw([cbor2.dumps({4: b"k"}), {}, b"p", b"s" * 64]), Malformed.COSE),
        (_raw([cbor2.dumps({1: -7}), {1: -7}, b"p", b"s" * 64]), Malformed.COSE),
        (_raw([cbor2.dumps({1: -7, 4: "text"}), {}, b"p", b"s" * 64]), Malformed.COSE),
        (_raw([cbor2.dumps({1: "ES256"}), {}, b"p", b"s" * 64]), Malformed.COSE),
        (_raw([b"\xa1\x01", {}, b"p", b"s" * 64]), Malformed.COSE),
    ],
)
def test_strict_structure(data: bytes, stage: Malformed) -> None:
    with pytest.raises(DecodeError) as info:
        decode_sign1(data)
    assert info.value.stage is stage


def test_unsupported_algorithm_is_mismatch() -> None:
    with pytest.raises(AlgorithmMismatch):
        decode_sign1(_raw([cbor2.dumps({1: -35}), {}, b"p", b"s" * 96]))


def test_alg_in_unprotected_only_when_allowed() -> None:
    data = _raw([b"", {1: -7, 4: b"k"}, b"p", b"s" * 64])
    with pytest.raises(DecodeError):
        decode_sign1(data)
    assert decode_sign1(data, allow_unprotected_alg=True).alg == "ES256"


def test_cwt_tag_61_accepted() -> None:
    signer, pub = _es256()
    msg = encode_sign1(b"x", alg="ES256", kid=signer.kid, sign=signer.sign)
    wrapped = cbor2.dumps(cbor2.CBORTag(61, cbor2.loads(msg)))
    verify_sign1(decode_sign1(wrapped), pub)


@pytest.mark.parametrize("n", [0, 23, 24, 255, 256, 65535, 65536])
def test_sig_structure_matches_cbor2(n: int) -> None:
    payload = bytes(n)
    expected = cbor2.dumps(["Signature1", b"\xa1\x01\x26", b"", payload])
    assert sig_structure(b"\xa1\x01\x26", payload) == expected
    assert sig_structure(payload, b"x", b"aad") == cbor2.dumps(["Signature1", payload, b"aad",
                                                                 b"x"])
