"""`make bench-mdrp`: every public MDRP instance through our dispatch and through the naive
baseline, two processes at a time, printed beside the paper's figures.

    .venv/bin/python bench/mdrp_table.py [--ready exact|estimated] [--only SUBSTR] [--set NAME=VALUE ...]
                                         [--jobs 2] [--out DIR] [--no-scale]

Reference figures: Reyes, Erera, Savelsbergh, Sahasrabudhe, O'Neil, "The Meal Delivery Routing
Problem", Optimization Online, 2018, as summarised in ../shared/benchmarks/mdrp/README.md (mean
over their 240 instances; Table 4 for 16 small instances). Our mean is over the 120 public
instances of seeds 0-4 that ../shared holds, so the two means are not over the same days.

The scale check replays one instance made of the five `o100t100s1p100` days side by side
(dispatch.mdrp.generate.side_by_side: 3,903 orders, 1,029 couriers, each city 100 km apart), more
than the largest of the 240 instances (3,213 orders); the goal is under a minute.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from dispatch.mdrp.generate import side_by_side  # noqa: E402
from dispatch.mdrp.instance import read_instance, write_instance  # noqa: E402
from dispatch.mdrp.run import RuleBroken, run_instance  # noqa: E402

# The paper's rolling horizon, mean over 240 instances, perfect information (README, "Reference
# results"), and with ready times known only as each restaurant's mean prep time.
PAPER_MEAN = {
    "pct_undelivered": 0.25,
    "ctd_mean": 32.74,
    "ctd_p90": 49.3,
    "ctd_overage_mean": 2.77,
    "rtp_mean": 1.93,
    "rtp_p90": 6.04,
    "utilisation_mean": 0.63,
    "cost_per_order": 11.42,
    "orders_per_bundle": 1.09,
}
PAPER_MEAN_ESTIMATED = {
    "pct_undelivered": 0.62,
    "ctd_mean": 34.03,
    "ctd_p90": 50.63,
    "rtp_mean": 2.90,
    "cost_per_order": 11.32,
}
# Table 4: instance -> (RH CtD, RH RtP, exact CtD, exact RtP).
TABLE4 = {
    "0o50t100s1p100": (31.19, 2.52, 29.81, 1.46),
    "0o50t100s1p125": (34.67, 2.27, 33.40, 1.23),
    "0o50t100s2p100": (29.79, 1.22, 28.96, 0.64),
    "0o50t100s2p125": (34.18, 1.85, 32.60, 0.53),
    "0o50t75s1p100": (28.40, 1.65, 27.49, 0.96),
    "0o50t75s1p125": (31.62, 1.19, 31.10, 0.78),
    "0o50t75s2p100": (27.29, 0.58, 26.83, 0.30),
    "0o50t75s2p125": (31.19, 0.70, 30.52, 0.24),
    "0r50t100s1p100": (32.46, 2.14, 30.76, 1.13),
    "0r50t100s1p125": (36.75, 2.16, 34.66, 0.97),
    "0r50t100s2p100": (31.21, 1.11, 29.93, 0.43),
    "0r50t100s2p125": (35.60, 1.22, 33.86, 0.26),
    "0r50t75s1p100": (29.57, 1.04, 28.47, 0.67),
    "0r50t75s1p125": (33.71, 1.19, 32.45, 0.55),
    "0r50t75s2p100": (29.03, 0.64, 27.95, 0.21),
    "0r50t75s2p125": (33.41, 0.84, 32.00, 0.16),
}
KEYS = list(PAPER_MEAN)


def shared_dir() -> Path:
    import os

    return Path(os.environ.get("MINGCHU_SHARED", str(_ROOT.parent / "shared")))


def _one(task: tuple[str, str, str, str, dict[str, Any]]) -> dict[str, Any]:
    folder, out, policy, ready, overrides = task
    try:
        figures = run_instance(Path(folder), Path(out), policy=policy, ready=ready, overrides=overrides)  # type: ignore[arg-type]
    except RuleBroken as exc:
        return {"instance": Path(folder).name, "policy": policy, "error": str(exc)}
    return {k: figures[k] for k in ["instance", "policy", "orders", "delivered", "wall_s", "dispatch_ms_p50", *KEYS]}


def family(name: str) -> str:
    """The instance's variant without its seed: `3r50t75s2p125` -> `r50t75s2p125`."""
    return name[1:]


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.fmean(vals) if vals else float("nan")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--ready", choices=["exact", "estimated"], default="exact")
    ap.add_argument("--only", default="", help="run only instances whose name contains this")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "mdrp-bench")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--no-naive", action="store_true")
    args = ap.parse_args(argv)
    overrides = {k: float(v) for k, _, v in (s.partition("=") for s in args.set)}
    root = shared_dir() / "benchmarks" / "mdrp" / "public_instances"
    if not root.is_dir():
        print(f"MDRP instances not found at {root}: skipping", file=sys.stderr)
        return 0
    folders = sorted(p for p in root.iterdir() if p.is_dir() and args.only in p.name)
    policies = ["engine"] if args.no_naive else ["engine", "naive"]
    tasks = [
        (str(f), str(args.out / args.ready / pol / f.name), pol, args.ready, overrides)
        for f in folders
        for pol in policies
    ]
    # The largest first, so the two workers finish together.
    tasks.sort(key=lambda t: -sum(1 for _ in open(Path(t[0]) / "orders.txt")))  # noqa: SIM115
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(_one, tasks))
    elapsed = time.monotonic() - started
    errors = [r for r in results if "error" in r]
    for r in errors:
        print(f"RULE BROKEN in {r['instance']} ({r['policy']}): {r['error']}", file=sys.stderr)
    ok = [r for r in results if "error" not in r]
    by_policy: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in ok:
        by_policy[r["policy"]].append(r)
    engine, naive = by_policy["engine"], by_policy.get("naive", [])
    paper = PAPER_MEAN if args.ready == "exact" else PAPER_MEAN_ESTIMATED

    print(
        f"\nMDRP, ready times {args.ready}: {len(folders)} instances, {len(tasks)} runs in {elapsed:.0f} s "
        f"({args.jobs} processes); overrides {overrides or 'none'}"
    )
    print("\nMean over all instances (paper: over its 240; ours: the public 120 of seeds 0-4)")
    print(f"{'metric':<20}{'ours':>10}{'naive':>10}{'paper RH':>10}")
    for k in KEYS:
        ref = paper.get(k)
        print(
            f"{k:<20}{_mean(engine, k):>10.3f}{_mean(naive, k) if naive else float('nan'):>10.3f}"
            f"{ref if ref is not None else float('nan'):>10.2f}"
        )

    print("\nTable 4 instances: click-to-door / ready-to-pickup, minutes")
    print(f"{'instance':<16}{'ours CtD':>9}{'RtP':>6}{'naive':>8}{'RH CtD':>8}{'RtP':>6}{'exact':>7}{'RtP':>6}")
    t4 = {r["instance"]: r for r in engine if r["instance"] in TABLE4}
    t4n = {r["instance"]: r for r in naive if r["instance"] in TABLE4}
    for name, (rh, rh_rtp, ex, ex_rtp) in TABLE4.items():
        if name not in t4:
            continue
        r = t4[name]
        nv = t4n[name]["ctd_mean"] if name in t4n else float("nan")
        print(
            f"{name:<16}{r['ctd_mean']:>9.2f}{r['rtp_mean']:>6.2f}{nv:>8.2f}{rh:>8.2f}{rh_rtp:>6.2f}"
            f"{ex:>7.2f}{ex_rtp:>6.2f}"
        )
    if t4:
        rows4 = list(t4.values())
        refs = [v for k, v in TABLE4.items() if k in t4]
        nv4 = _mean(list(t4n.values()), "ctd_mean") if t4n else float("nan")
        print(
            f"{'average':<16}{_mean(rows4, 'ctd_mean'):>9.2f}{_mean(rows4, 'rtp_mean'):>6.2f}{nv4:>8.2f}"
            f"{statistics.fmean(v[0] for v in refs):>8.2f}{statistics.fmean(v[1] for v in refs):>6.2f}"
            f"{statistics.fmean(v[2] for v in refs):>7.2f}{statistics.fmean(v[3] for v in refs):>6.2f}"
        )

    beaten = 0
    fams: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in ok:
        fams[family(r["instance"])][r["policy"]].append(r)
    if naive:
        print("\nPer family (mean over seeds): % undelivered and click-to-door, ours vs naive")
        print(f"{'family':<16}{'ours %u':>8}{'CtD':>8}{'naive %u':>10}{'CtD':>8}  better")
        for fam in sorted(fams):
            e, n = fams[fam]["engine"], fams[fam]["naive"]
            eu, ec, nu, nc = (
                _mean(e, "pct_undelivered"),
                _mean(e, "ctd_mean"),
                _mean(n, "pct_undelivered"),
                _mean(n, "ctd_mean"),
            )
            better = eu <= nu and ec < nc
            beaten += better
            print(f"{fam:<16}{eu:>8.2f}{ec:>8.2f}{nu:>10.2f}{nc:>8.2f}  {'yes' if better else 'NO'}")
        print(f"ours better on {beaten} of {len(fams)} families")

    summary: dict[str, Any] = {
        "ready": args.ready,
        "overrides": overrides,
        "instances": len(folders),
        "mean": {k: _mean(engine, k) for k in KEYS},
        "naive_mean": {k: _mean(naive, k) for k in KEYS} if naive else None,
        "table4_ctd_mean": _mean(list(t4.values()), "ctd_mean") if t4 else None,
        "families_beaten": beaten,
        "families": len(fams),
        "errors": len(errors),
        "wall_s_max": max((r["wall_s"] for r in engine), default=None),
    }
    if not args.no_scale and not args.only:
        parts = [read_instance(root / f"{seed}o100t100s1p100") for seed in range(5)]
        big = side_by_side(parts, "seeds0-4_o100t100s1p100")
        folder = args.out / "scale" / big.name
        write_instance(folder, big)
        r = _one((str(folder), str(args.out / "scale" / "out"), "engine", args.ready, overrides))
        if "error" in r:
            print(f"RULE BROKEN in the scale instance: {r['error']}", file=sys.stderr)
            errors.append(r)
        else:
            print(
                f"\nScale: {r['orders']} orders, {len(big.couriers)} couriers replayed in {r['wall_s']:.1f} s "
                f"(goal < 60 s), dispatch p50 {r['dispatch_ms_p50']:.1f} ms; CtD {r['ctd_mean']:.2f}, "
                f"undelivered {r['pct_undelivered']:.2f} %"
            )
            summary["scale"] = {k: r[k] for k in ("orders", "wall_s", "dispatch_ms_p50", "ctd_mean")}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"summary-{args.ready}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
