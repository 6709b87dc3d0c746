"""Fingerprint library of guardreg.

* :mod:`.templates`  ISO/IEC 19794-2 (2005, 2011) and ANSI INCITS 378 (2004, 2009, 2009/Amd1)
  minutiae records: parse, encode, JSON view.
* :mod:`.extraction` minutiae from a grayscale image (resampled to 500 dpi).
* :mod:`.quality`    0-100 capture quality with reasons; ``QualityRejected`` below a threshold.
* :mod:`.matcher`    MCC + LSS-R matcher, ``prepare`` / ``match`` / ``match_many``,
  calibrated thresholds ``THRESHOLD_FMR_1`` / ``_01`` / ``_001``, compact serialisation.
* :mod:`.index`      MCC codes for the 1:N index in PostgreSQL (locality-sensitive hashing);
  ``FingerprintIndex``, the earlier in-memory index (a benchmark baseline).
* :mod:`.evaluation` FVC-style accuracy report of a folder.

See ``docs/fingerprint.md``.
"""
