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
    other's cores (torch's small ops then measured up to ten times slower than they are)."""
    cases = sorted(cases, key=lambda c: IMPL_ORDER.index(c.impl))  # stable: sizes keep their order
    # the caller's list and dict: what was measured survives an interrupt
    rows = [] if rows is None else rows
    health = {} if health is None else health
    health.update(
        threads=threads,
        cores=os.cpu_count(),
        load_before=os.getloadavg()[0],
        others_running=others_running(),
        sentinels=[sentinel(threads)],
    )
    middle = len(cases) // 2
    for k, case in enumerate(tqdm(cases, desc="benchmarks", unit="case", dynamic_ncols=True)):
        if k == middle and k:
            health["sentinels"].append(sentinel(threads))
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
    health["sentinels"].append(sentinel(threads))
    return rows
