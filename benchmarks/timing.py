"""Timing with torch.utils.benchmark: it warms up, picks the number of runs per block, and
synchronises the GPU around each block (torch.cuda.synchronize waits for CuPy's kernels too)."""

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


IMPL_ORDER = ("scratch-numpy", "torch-cpu", "scratch-cupy", "torch-cuda", "torch-cuda-graph")


def run(cases, min_run_time, threads, rows=None):
    """Time every case; all of one implementation's cases run together, one implementation after
    another: NumPy's BLAS threads and torch's OpenMP threads each keep spinning for a while after
    their last call, and on a machine with few cores interleaving the two makes them steal each
    other's cores (torch's small ops then measured up to ten times slower than they are)."""
    cases = sorted(cases, key=lambda c: IMPL_ORDER.index(c.impl))  # stable: sizes keep their order
    rows = (
        [] if rows is None else rows
    )  # the caller's list: what was measured survives an interrupt
    for case in tqdm(cases, desc="benchmarks", unit="case", dynamic_ncols=True):
        m = measure(case.fn, min_run_time, threads)
        times = sorted(m.times)
        rows.append(
            {
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
            }
        )
    return rows
