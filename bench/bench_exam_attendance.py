"""The exam attendance rule (issue 15): the fused face + one-finger threshold at several
false match rates with the false non-match rate the shipped calibration's genuine model
predicts, then measured rates on a chimeric sample of the development data (LFW dev
faces x FVC2002 fingers; the calibration saw these sets, so the measured rates are
optimistic for unseen data).

    .venv/bin/python bench/bench_exam_attendance.py [--people 60]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from biometrics import finger_capture, fusion
from biometrics.face.pipeline import get_analyzer

# ../shared/data beside the checkout (or beside its worktree folder); --data overrides.
DATA = next((p / "shared" / "data" for p in Path(__file__).resolve().parents[2:4]
             if (p / "shared" / "data").is_dir()), Path("shared/data"))


def model_table(face: fusion.ModalityCalibration, finger: fusion.ModalityCalibration) -> None:
    imp = fusion.convolve(fusion.model_pmf(face), fusion.model_pmf(finger))
    gen = fusion.convolve(fusion.model_pmf(face, genuine=True),
                          fusion.model_pmf(finger, genuine=True), exact=False)
    values = fusion.bin_values()
    print("FMR target | fused LLR threshold | calibration-model FNMR")
    for fmr in (1e-3, 1e-4, 1e-5, 1e-6):
        t = fusion.threshold_for(imp, fmr)
        fnmr = float(gen[values < t].sum()) if t is not None else float("nan")
        print(f"{fmr:.0e} | {t:.2f} | {fnmr:.4f}")


def faces(people: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from biometrics.errors import QualityRejected
    from biometrics.imaging import decode_image

    analyzer = get_analyzer()
    root = DATA / "faces" / "lfw-dev" / "images"
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        imgs = sorted(d.iterdir())[:2]
        if len(imgs) < 2:
            continue
        try:
            encs = [np.asarray(analyzer.analyse(decode_image(p.read_bytes()).pixels,
                                                purpose="evaluate").encoding) for p in imgs]
        except QualityRejected:
            continue
        out.append((encs[0], encs[1]))
        if len(out) == people:
            break
    return out


def fingers(count: int) -> list[tuple[object, object]]:
    """Two impressions (1 and 2) of ``count`` fingers from DB1_B and DB2_B."""
    from biometrics.fingerprint import extraction, matcher
    from biometrics.fingerprint.templates import FORMAT_ISO_2005, build_record, encode_template

    out = []
    for db in ("DB1_B", "DB2_B", "DB3_B", "DB4_B"):
        for f in range(101, 111):
            pair = []
            for imp in (1, 2):
                res = extraction.extract_from_bytes(
                    (DATA / "fingerprints" / "fvc2002" / db / f"{f}_{imp}.png").read_bytes())
                rec = build_record(res.minutiae, width=res.width, height=res.height, dpi=500.0,
                                   quality=0, fmt=FORMAT_ISO_2005, position=0)
                pair.append(matcher.prepare(encode_template(rec)))
            out.append((pair[0], pair[1]))
            if len(out) == count:
                return out
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=60)
    ap.add_argument("--data", type=Path, default=None, help="the shared data folder")
    args = ap.parse_args()
    global DATA
    DATA = args.data or DATA
    from biometrics.fingerprint.matcher import match

    cal = fusion.load_calibration()
    face = cal.for_face(get_analyzer().model_id)
    finger = cal.for_finger(finger_capture.MODEL_ID)
    print(f"face model {face.model}, finger model {finger.model}")
    model_table(face, finger)
    fuse = fusion.Fusion(cal, fusion.Policy(), face_model=face.model,
                         finger_model=finger.model)
    comps = [fuse.face_comparison(0.4), fuse.finger_comparison(0.1, position=2,
                                                                candidate_position=2)]
    threshold = fusion.threshold_for(fuse.impostor_pmf(comps), 1e-4)
    assert threshold is not None
    t0 = time.perf_counter()
    fs = faces(args.people)
    fp = fingers(len(fs))
    n = min(len(fs), len(fp))
    print(f"sample: {n} chimeric people (LFW dev face pairs x FVC2002 impressions 1-2), "
          f"prepared in {time.perf_counter() - t0:.0f} s")
    face_llr = np.array([[face.llr_one(float(np.linalg.norm(fs[i][0] - fs[k][1])))
                          for k in range(n)] for i in range(n)])
    finger_llr = np.array([[finger.llr_one(float(match(fp[k][1], fp[i][0])))
                            for k in range(n)] for i in range(n)])
    fused = face_llr + finger_llr
    genuine = np.diag(fused)
    impostor = fused[~np.eye(n, dtype=bool)]
    print(f"threshold (FMR 1e-4, face + 1 finger at a known position): {threshold:.2f}")
    print(f"genuine refused: {int((genuine < threshold).sum())} of {n} "
          f"({(genuine < threshold).mean():.3f}); median fused LLR {np.median(genuine):.1f}")
    print(f"impostor admitted: {int((impostor >= threshold).sum())} of {impostor.size}; "
          f"highest impostor fused LLR {impostor.max():.1f}")


if __name__ == "__main__":
    main()
