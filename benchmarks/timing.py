"""Timing with torch.utils.benchmark: it warms up, picks the number of runs per block, and
synchronises the GPU around each block (torch.cuda.synchronize waits for CuPy's kernels too)."""

import os
import time

import numpy as np
import torch
import torch.utils.benchmark as tbench

try:
    from tqdm import tqdm
except ImportError:  # progress without tqdm: a line at every tenth of the cases

    def tqdm(cases, desc, **_):
        cases = list(cases)
        for i, case in enumerate(cases, 1):
            yield case
            if i == len(cases) or i % max(1, len(cases) // 10) == 0:
                print(f"{desc}: {i}/{len(cases)} cases", flush=True)


def measure(fn, min_run_time, threads):
    fn()  # warm-up outside the timer: first-call allocations, lazy imports, cuBLAS handles
    timer = tbench.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
    return timer.blocked_autorange(min_run_time=min_run_time)


SENTINEL_SIZE = 512  # large enough that both libraries' products use every thread


def sentinel(threads):
    """One fixed product, 512 x 512 x 512 float32, timed in NumPy then in torch: (seconds, CPU
    seconds per wall second) for each. Timed at the start, the middle and the end of a run, it
    says whether the machine stayed as it was: a slower repeat, or a share of the CPU well below
    the threads asked for, means another program was taking the cores."""
    a = np.ones((SENTINEL_SIZE, SENTINEL_SIZE), np.float32)
    t = torch.ones(SENTINEL_SIZE, SENTINEL_SIZE)
    out = []
    for fn in (lambda: a @ a, lambda: t @ t):
        wall, cpu = time.perf_counter(), time.process_time()
        m = measure(fn, 0.5, threads)
        share = (time.process_time() - cpu) / (time.perf_counter() - wall)
        out.append((m.median, share))
    return out


def others_running(samples=5, every=0.1):
    """How many other processes were running or waiting for a core: the median of a few looks at
    the kernel's count (/proc/loadavg's 4th field, which counts this process too). The 1-minute
    load average decides nothing: it still holds the install or the tests that ran just before.
    None where the kernel does not say."""
    counts = []
    for _ in range(samples):
        try:
            with open("/proc/loadavg") as f:
                counts.append(int(f.read().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            return None
        time.sleep(every)
    return sorted(counts)[len(counts) // 2]


IMPL_ORDER = ("scratch-numpy", "torch-cpu", "scratch-cupy", "torch-cuda", "torch-cuda-graph")


def run(cases, min_run_time, threads, rows=None, health=None):
    """Time every case; all of one implementation's cases run together, one implementation after
    another: NumPy's BLAS threads and torch's OpenMP threads each keep spinning for a while after
    their last call, and on a machine with few cores interleaving the two makes them steal each
    other's cores (torch's small ops then measured up to ten times slower than they are).

    Each row records the CPU time the process got per second of the measurement (`cpu_share`).
    A measurement that looks disturbed (`suspicion`) is measured once more at the end, and the
    row keeps the second measurement; still suspect, it carries `suspect` (the reason), which the
    report marks in its tables and judges no target from."""
    order = sorted(range(len(cases)), key=lambda k: IMPL_ORDER.index(cases[k].impl))
    # the caller's list and dict: what was measured survives an interrupt
    rows = [] if rows is None else rows
    health = {} if health is None else health
    health.update(
        threads=threads,
        cores=os.cpu_count(),
        load_before=os.getloadavg()[0],
        others_running=others_running(),
        sentinels=[sentinel(threads)],
        remeasured=0,
    )
    timed = []  # (case, row), in the order measured
    middle = len(cases) // 2
    ordered = [cases[k] for k in order]  # stable: sizes keep their order
    for k, case in enumerate(tqdm(ordered, desc="benchmarks", unit="case", dynamic_ncols=True)):
        if k == middle and k:
            health["sentinels"].append(sentinel(threads))
        rows.append(_row(case, *_timed(case, min_run_time, threads)))
        timed.append((case, rows[-1]))
    again = [(case, row) for case, row in timed if suspicion(row, rows)]
    if again:
        print(f"benchmarks: {len(again)} measurement(s) looked disturbed: measuring them again")
    health["remeasured"] = len(again)
    for case, row in again:  # still in implementation order: one library after the other
        first = row["median_s"], suspicion(row, rows)
        row.update(_row(case, *_timed(case, min_run_time, threads)))
        row["first_median_s"] = first[0]
        row["first_suspicion"] = first[1]
    for _, row in again:  # judged again, against the neighbours as they are now
        row["suspect"] = suspicion(row, rows)
    health["sentinels"].append(sentinel(threads))
    health["load_after"] = os.getloadavg()[0]  # recorded beside load_before (results.json)
    return rows


def _timed(case, min_run_time, threads):
    """(the Measurement, the CPU seconds the process got per wall second). A case may ask to be
    measured several times and keep its fastest (the GEMM peak, the yardstick of % peak: a peak
    measured in a slow moment would flatter every rate)."""
    best, share = None, None
    for _ in range(case.extra.get("best_of", 1)):
        wall, cpu = time.perf_counter(), time.process_time()
        m = measure(case.fn, min_run_time, threads)
        got = (time.process_time() - cpu) / (time.perf_counter() - wall)
        if best is None or m.median < best.median:
            best, share = m, got
    return best, share


def _row(case, m, share):
    times = sorted(m.times)
    return {
        "model": case.model,
        "size": case.size,
        "size_label": case.size_label,
        "size_unit": case.size_unit,
        "impl": case.impl,
        "median_s": m.median,
        "iqr_s": m.iqr,
        "q25_s": times[len(times) // 4],
        "q75_s": times[(3 * len(times)) // 4],
        "blocks": len(m.times),
        "runs_per_block": m.number_per_run,
        "flops": case.flops,
        "flop_per_s": case.flops / m.median if case.flops else None,
        "cpu_share": round(share, 3),
        # sizes of one shape grown (False: conv's sizes are different layers, where a smaller
        # one can rightly take longer)
        "trend": case.extra.get("trend", True),
        "suspect": "",
        # a measurement made again: the first one's median and why it was doubted
        "first_median_s": None,
        "first_suspicion": "",
    }


# The limits of a plausible measurement, and why:
LOW_SHARE = 0.6  # CPU seconds per second: even a one-thread op keeps one core busy while timed
WIDE_SPREAD = 0.5  # IQR / median: blocks of the same calls disagreeing by half were disturbed
OFF_TREND = 2.0  # a smaller problem taking twice as long as the next larger one of its kind


def suspicion(row, rows):
    """Why `row`'s time cannot be trusted, or "": the process got under LOW_SHARE of a CPU while
    it was timed (CPU implementations only: a GPU's wait is not a CPU's), its blocks spread by
    more than WIDE_SPREAD of the median, or it took OFF_TREND times as long as the next larger
    size of the same model and implementation (work grows with size; not asked of rows whose
    sizes are different shapes, `trend` False)."""
    reasons = []
    if row["impl"] in ("scratch-numpy", "torch-cpu") and row["cpu_share"] < LOW_SHARE:
        reasons.append(f"it got {row['cpu_share']:.2f} CPUs while timed")
    if row["iqr_s"] > WIDE_SPREAD * row["median_s"]:
        reasons.append(f"its spread was {row['iqr_s'] / row['median_s']:.0%} of its median")
    larger = [
        r
        for r in rows
        if r["model"] == row["model"] and r["impl"] == row["impl"] and r["size"] > row["size"]
    ]
    if not row.get("trend", True):
        larger = []
    if larger:
        following = min(larger, key=lambda r: r["size"])
        if row["median_s"] > OFF_TREND * following["median_s"]:
            reasons.append(
                f"it took {row['median_s'] / following['median_s']:.1f}x as long as the larger "
                f"{following['size_label']}"
            )
    return "; ".join(reasons)
