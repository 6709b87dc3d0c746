"""What the issue-14 exhaustion inputs cost, unbounded and through the image pool.

    .venv/bin/python bench/bench_exhaustion.py

For each input: the CPU seconds its work costs when run directly in this process
(``time.process_time``, all threads), then the outcome and the wall time of the same
task through :class:`api.workpool.WorkPool` with the default budget (2 CPU-seconds).
Baselines from the same run: a real face photo and a real QR code. Prints figures; no
assertions.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from api import image_work
    from api.workpool import WorkPool
    from certificates import qr
    from registry.errors import GuardregError
    from tests.resilience.exhaustion import finder_pattern_mosaic, finger_mosaic

    face = (ROOT / "tests/fixtures/people/Jiang_Zemin_0001_x2.jpg").read_bytes()
    real_qr = qr.render_png("SG1:" + "A" * 300)
    big = dict(max_bytes=50 * 1024 * 1024, max_pixels=50_000_000)
    cases: list[tuple[str, Any, tuple[Any, ...], dict[str, Any]]] = [
        ("baseline: face photo 500x500", image_work.analyse_face, (face,),
         dict(purpose="enroll", keep_pixels=False, **big)),
        ("baseline: QR code PNG", image_work.read_qr, (real_qr,), big),
        (f"QR finder mosaic 2000x2000 ({len(finder_pattern_mosaic()) // 1024} KiB)",
         image_work.read_qr, (finder_pattern_mosaic(),), big),
        ("finger mosaic 1400x1400", image_work.capture_finger, (finger_mosaic(1400),),
         dict(dpi=500, purpose="verify", position=0, **big)),
        ("finger mosaic 2000x2000", image_work.capture_finger, (finger_mosaic(2000),),
         dict(dpi=500, purpose="verify", position=0, **big)),
    ]
    image_work.warm()
    pool = WorkPool(workers=1, cpu_budget_s=2.0, warm=image_work.warm,
                    preload=("api.image_work",))
    pool.run(image_work.read_qr, real_qr, **big)  # start and warm the worker
    print(f"{'input':44s} {'direct CPU s':>12s}   {'through the pool (budget 2 s)':s}")
    for name, fn, args, kwargs in cases:
        t = time.process_time()
        with contextlib.suppress(GuardregError):
            fn(*args, **kwargs)
        direct = time.process_time() - t
        w = time.perf_counter()
        try:
            pool.run(fn, *args, **kwargs)
            outcome = "done"
        except GuardregError as exc:
            outcome = f"{exc.status} {exc.code} {exc.extra.get('reason', '')}".strip()
        wall = time.perf_counter() - w
        print(f"{name:44s} {direct:12.2f}   {outcome} after {wall:.2f} s wall")
    pool.close()


if __name__ == "__main__":
    main()
