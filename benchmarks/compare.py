"""Two runs, case by case: what got slower, with the machine's drift taken out.

    python -m benchmarks.compare BEFORE_DIR AFTER_DIR     two stored runs (their results.json)
    python -m benchmarks --compare BEFORE_DIR ...         this run against a stored one (a section
                                                          of its report)

A case is the same case in both runs when its identity is: (model, size label, implementation),
fields of the measurement, never a display string parsed back. A machine drifts from day to day
(10-20% on this project's 2-core machine), and both runs timed the same sentinel product in each
library (timing.run's health check), so each library's times are divided by its sentinel's ratio:
what is left is the code's change. A case counts as slower or faster only beyond its noise: the
larger relative spread (IQR / median) of its two measurements, times 3, and never under 5%.
The sentinel is a matrix product, so it measures the CPU's speed, not its memory's: a memory-bound
case (an optimizer's step over millions of weights) can drift 10-15% between days unseen by it
(measured here: the 5 bare GEMMs of a two-layer step agreed to 13% across two days, SGD's step over
200K weights to 40%). Compare runs made the same day on a quiet machine for changes under that.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

MIN_CHANGE = 0.05  # below this a ratio is "unchanged", whatever the spread says
DRIFT_AGREEMENT = 0.10  # the sentinel's drift is taken out only if the median case agrees this well
NOISE_FACTOR = 3.0  # a change must exceed this many relative spreads


def load(run_dir):
    """(environment, rows) of a stored run's results.json."""
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{run_dir} holds no results.json: is it a benchmarks --out folder?"
        )
    data = json.loads(path.read_text())
    return data["environment"], data["results"]


def identity(row):
    return (row["model"], row["size_label"], row["impl"])


def drift(old_env, new_env):
    """{library: new sentinel time / old}, the best of each run's three sentinel repeats (their
    median moved 30% within one run here; the best is steadier), 1.0 where either run has none."""
    out = {}
    for k, lib in enumerate(("numpy", "torch")):
        times = []
        for env in (old_env, new_env):
            sentinels = env.get("health", {}).get("sentinels") or []
            times.append(min(s[k][0] for s in sentinels) if sentinels else None)
        out[lib] = times[1] / times[0] if None not in times else 1.0
    return out


def trusted_drift(factors, raw):
    """The drift to take out, per library: the sentinel's, unless the library's median case moved
    otherwise by more than DRIFT_AGREEMENT (then a matrix product's speed did not stand for the
    cases': the Python-bound and memory-bound ones drift apart from it), and 1.0 then: the raw
    ratios are the honest ones. Returns ({library: factor}, {library: why, for those not used})."""
    used, doubts = {}, {}
    for lib, factor in factors.items():
        ratios = [r for r, impl in raw if library(impl) == lib]
        median = statistics.median(ratios) if ratios else factor
        if abs(median / factor - 1) > DRIFT_AGREEMENT:
            used[lib] = 1.0
            doubts[lib] = (
                f"{lib}'s sentinel moved {factor:.2f}x but its median case {median:.2f}x: the "
                "drift is not taken out of its cases"
            )
        else:
            used[lib] = factor
    return used, doubts


def library(impl):
    return "numpy" if impl.startswith("scratch") else "torch"


def compare(old_env, old_rows, new_env, new_rows):
    """A list of dicts, one per case in both runs: identity, both medians, the drift-corrected
    ratio (new / old), its noise threshold and verdict ('slower', 'faster', 'unchanged'); slower
    first, most slowed first. Plus the cases only one run has."""
    old = {identity(r): r for r in old_rows}
    new = {identity(r): r for r in new_rows}
    both = [key for key in new if key in old]
    raw = [(new[k]["median_s"] / old[k]["median_s"], k[2]) for k in both]
    factors, doubts = trusted_drift(drift(old_env, new_env), raw)
    rows = []
    for key in both:
        a, b = old[key], new[key]
        ratio = (b["median_s"] / a["median_s"]) / factors[library(key[2])]
        spread = max(a["iqr_s"] / a["median_s"], b["iqr_s"] / b["median_s"])
        threshold = max(MIN_CHANGE, NOISE_FACTOR * spread)
        verdict = "slower" if ratio > 1 + threshold else "faster" if ratio < 1 - threshold else ""
        rows.append(
            {
                "model": key[0],
                "size": key[1],
                "impl": key[2],
                "before_s": a["median_s"],
                "after_s": b["median_s"],
                "ratio": ratio,
                "threshold": threshold,
                "verdict": verdict or "unchanged",
            }
        )
    order = {"slower": 0, "faster": 1, "unchanged": 2}
    rows.sort(
        key=lambda r: (order[r["verdict"]], -r["ratio"] if r["verdict"] == "slower" else r["ratio"])
    )
    only = {"before": sorted(set(old) - set(new)), "after": sorted(set(new) - set(old))}
    return rows, {"factors": factors, "doubts": doubts}, only


def _seconds(s):
    return f"{s * 1e6:.3g} µs" if s < 1e-3 else f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def markdown(rows, drift_info, only, before="before", after="after"):
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("slower", "faster", "unchanged")}
    factors, doubts = drift_info["factors"], drift_info["doubts"]
    taken = ", ".join(
        f"{'NumPy' if lib == 'numpy' else 'torch'}'s {factors[lib]:.2f}x"
        for lib in factors
        if lib not in doubts
    )
    lines = [
        f"## {after} against {before}",
        "",
        f"{len(rows)} cases in both runs: **{counts['slower']} slower**, {counts['faster']} "
        f"faster, {counts['unchanged']} unchanged beyond their noise. The machine's drift taken "
        f"out (after / before, the sentinel product's): {taken or 'none'}."
        + "".join(f" {why}." for why in doubts.values()),
        "",
    ]
    changed = [r for r in rows if r["verdict"] != "unchanged"]
    if changed:
        lines += [
            "| case | size | implementation | before | after | after / before, drift out | noise |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in changed:
            lines.append(
                f"| {r['model']} | {r['size']} | {r['impl']} | {_seconds(r['before_s'])} | "
                f"{_seconds(r['after_s'])} | **{r['ratio']:.2f}x** ({r['verdict']}) | "
                f"±{r['threshold']:.0%} |"
            )
        lines.append("")
    for side, keys in only.items():
        if keys:  # whole suites one run measured and the other did not: counted, by model
            models = sorted({k[0] for k in keys})
            shown = "; ".join(models[:6]) + (
                f"; and {len(models) - 6} more" if len(models) > 6 else ""
            )
            lines.append(f"Only {side}: {len(keys)} cases of {len(models)} models ({shown}).")
    return "\n".join(lines) + "\n"


def section(old_dir, new_env, new_rows):
    """The report's section for `python -m benchmarks --compare OLD_DIR`."""
    old_env, old_rows = load(old_dir)
    rows, drift_info, only = compare(old_env, old_rows, new_env, new_rows)
    return markdown(rows, drift_info, only, before=str(old_dir), after="This run")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("before", type=Path, help="a stored run (a benchmarks --out folder)")
    parser.add_argument("after", type=Path, help="another")
    args = parser.parse_args(argv)
    try:
        old_env, old_rows = load(args.before)
        new_env, new_rows = load(args.after)
    except FileNotFoundError as error:
        sys.exit(str(error))
    rows, drift_info, only = compare(old_env, old_rows, new_env, new_rows)
    print(markdown(rows, drift_info, only, str(args.before), str(args.after)))


if __name__ == "__main__":
    main()
