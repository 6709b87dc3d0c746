"""Guard certificates: signed CWT claims in COSE_Sign1, as ``SG1:`` Base45 text and QR.

Modules (see ``docs/credential-format.md``):

- ``base45``, ``envelope`` (prefix + Base45 + optional zlib), ``cose`` (COSE_Sign1),
  ``cwt`` (guard claims), ``credential`` (``seal``: claims -> text), ``qr``;
- ``signing`` (keyring and ``Signer``: the only place that loads private keys);
- ``statuslist`` (2-bit Token Status List), ``trustlist`` (signed key list);
- ``verification`` (``verify`` -> ``VerifiedCertificate`` or ``VerificationError``);
- ``cache`` (offline trust/status cache), ``dcc`` (EU DCC conformance check).
"""
