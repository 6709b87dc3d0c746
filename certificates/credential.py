"""Guard certificate <-> text: sign claims into ``SG1:...`` text, and read text back
without verifying (for display and debugging only; use ``verification.verify``).

Example::

    text = seal(claims, ring.signer("certificate"))     # "SG1:6BF..."
    png = qr.render_png(text)
"""

from __future__ import annotations

from certificates.cose import Sign1, SigningKey, decode_sign1, encode_sign1
from certificates.cwt import GuardClaims
from certificates.envelope import GUARD_PREFIX, decode_text, encode_text
from certificates.errors import CertificateError


def seal_cose(claims: GuardClaims, signer: SigningKey) -> bytes:
    """COSE_Sign1 bytes of ``claims`` signed by ``signer``; checks the signed message
    carries exactly the claims asked for (write down what you sign, then check)."""
    payload = claims.encode()
    cose = encode_sign1(payload, alg=signer.alg, kid=signer.kid, sign=signer.sign)
    if decode_sign1(cose).payload != payload or GuardClaims.decode(payload).encode() != payload:
        raise CertificateError("signed payload differs from the claims")  # pragma: no cover
    return cose


def seal(
    claims: GuardClaims, signer: SigningKey, *, prefix: str = GUARD_PREFIX, compress: bool = True
) -> str:
    """Certificate text ``SG1:`` + Base45(zlib-if-smaller(COSE_Sign1(claims)))."""
    return encode_text(seal_cose(claims, signer), prefix, compress=compress)


def inspect(text: str, *, prefix: str = GUARD_PREFIX) -> tuple[Sign1, GuardClaims]:
    """Decode without verifying. Raises ``DecodeError``. Never trust the result."""
    msg = decode_sign1(decode_text(text, prefix))
    return msg, GuardClaims.decode(msg.payload)
