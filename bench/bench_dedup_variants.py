"""What each conservative choice of the dedup calibration costs (docs/dedup.md).

Fits four calibrations on lfw-dev + FVC2002 DB1-4_B (face impostors East-Asian-weighted
or all-LFW; finger impostor tail the envelope of the sensors or pooled) and prints the
chimeric benchmark's FNIR under enrollment's rule for each. The first line is the
shipped choice (the baseline of this run). Uses the caches of ``guardreg eval``.

    .venv/bin/python bench/bench_dedup_variants.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from api import cli_eval_dedup as ev
from biometrics import finger_capture, fusion

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared beside the repo
LFW = SHARED / "faces" / "lfw-dev" / "images"
FVC = [SHARED / "fingerprints" / "fvc2002" / s
       for s in ("DB1_B", "DB2_B", "DB3_B", "DB4_B")]


def main() -> None:
    cache = ev.default_cache()

    def progress(_msg: str) -> None:
        pass

    model, raw, _ = ev.face_encodings(LFW, cache, progress)
    enc = ev._usable(raw, list(raw))
    gen, imp = ev.face_genuine(enc), ev.face_impostor(enc)
    ea = ev.face_impostor({n: enc[n] for n in ev.EAST_ASIAN if n in enc}, sample=None)
    sets = ev.finger_sets(FVC, cache, progress)
    fmodel = finger_capture.MODEL_ID
    face_ea = ev.fit_face(gen, imp, ea, model, {})
    face_all = fusion.fit_modality("face", model, gen, imp)
    finger_env = ev.fit_finger(sets, fmodel, list(sets))
    finger_pool = fusion.fit_modality("finger", fmodel,
                                      np.concatenate([sets[n][0] for n in sets]),
                                      np.concatenate([sets[n][1] for n in sets]))
    for name, fc, gc in (("shipped (East-Asian faces, sensor envelope)", face_ea, finger_env),
                         ("finger tail pooled", face_ea, finger_pool),
                         ("face impostors all-LFW", face_all, finger_env),
                         ("both relaxed", face_all, finger_pool)):
        cal = fusion.Calibration({model: fc}, {fmodel: gc})
        r = ev.run_dedup(LFW, FVC, cal, cache, 0, progress)
        print(name, json.dumps({**r["deployed_rule"], "llr_max_face": fc.llr_max,
                                "llr_max_finger": gc.llr_max}), flush=True)


if __name__ == "__main__":
    main()
