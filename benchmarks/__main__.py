"""python -m benchmarks [--quick] [--only NAME ...] [--device cpu|cuda|all] [--out DIR] [--threads
N]

Times every model for scratch-NumPy and torch-CPU, and where a GPU is present scratch-CuPy and
torch-CUDA, with torch.utils.benchmark (warm-up, adaptive run counts, CUDA synchronisation).
Writes results.csv, results.json, report.md and PNG plots to --out.
"""

import argparse
import math
import os
import signal
import sys
import time
from pathlib import Path

# the names of benchmarks.cases.BUILDERS and the digits suite, written here so that --help imports
# neither torch nor NumPy before main() pins their threads (a test keeps the lists equal)
BENCHMARKS = (
    "gradient_descent",
    "sgd",
    "adam",
    "perceptron",
    "two_layer",
    "normalization",
    "conv",
    "recurrent",
    "attention",
    "gpt",
    "floor",
    "digits",
    "text",
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer sizes, shorter runs (about two minutes on 2 cores)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only this benchmark (repeat for several): one of {', '.join(BENCHMARKS)}; "
        "the GEMM peak, the yardstick of '%% peak', always runs. None: all of them",
    )
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda", "all"],
        default="all",
        help="which implementations to time; 'all' adds the GPU ones where a GPU is present",
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results", help="output folder"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count(),
        help="CPU threads for torch and BLAS (all cores)",
    )
    parser.add_argument(
        "--tf32", action="store_true", help="allow TF32 on CUDA matmuls (off: true float32)"
    )
    parser.add_argument(
        "--no-figures",
        action="store_true",
        help="skip the study figures (twins drawn over each other)",
    )
    parser.add_argument(
        "--min-run-time",
        type=float,
        default=None,
        help="seconds per measurement (None: 0.5 with --quick, else 1.0)",
    )
    parser.add_argument(
        "--text-steps",
        type=int,
        default=None,
        help="training steps of the text suite's GPT (None: 400 with --quick, else 1500)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="a stored run (e.g. benchmarks/results/reference) to compare this run with, case by "
        "case, the machine's drift taken out: a section of the report, the slower cases first",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads < 1:
        sys.exit(f"--threads must be >= 1, got {args.threads}")
    if args.min_run_time is not None and not 0 < args.min_run_time < math.inf:
        sys.exit(f"--min-run-time must be > 0 seconds and finite, got {args.min_run_time}")
    if args.text_steps is not None and args.text_steps < 1:
        sys.exit(f"--text-steps must be >= 1, got {args.text_steps}")
    from benchmarks.environment import output_folder

    if args.compare is not None and not (args.compare / "results.json").is_file():
        sys.exit(f"--compare {args.compare}: no results.json there (a benchmarks --out folder?)")
    output_folder(args.out)  # before the first measurement, not after the last (it makes it)
    # Fix thread counts before the numerical libraries start their pools; NumPy is imported first,
    # since threadpoolctl limits only the pools of libraries already loaded (before, --threads 1
    # left OpenBLAS at 2 threads)
    import numpy  # noqa: F401

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a bare machine (a GPU box with no package index) still gets its timings
        print(
            "threadpoolctl is not installed, so NumPy's BLAS threads are not pinned "
            "(pip install -e '.[bench]'); the report says so"
        )
    else:
        threadpool_limits(limits=args.threads)
    import torch

    torch.set_num_threads(args.threads)
    from benchmarks import cases, environment, report, timing

    impls = list(cases.CPU_IMPLS) if args.device in ("cpu", "all") else []
    gpu_reason = environment.gpu_missing()
    if args.device in ("cuda", "all"):
        if gpu_reason is None:
            impls += list(cases.GPU_IMPLS)
            torch.backends.cuda.matmul.allow_tf32 = args.tf32
            torch.backends.cudnn.allow_tf32 = args.tf32
            # CuPy reads CUPY_TF32 at its first float32 matrix product (default off): the same
            # choice for both
            os.environ["CUPY_TF32"] = "1" if args.tf32 else "0"
        elif args.device == "cuda":
            sys.exit(f"--device cuda: {gpu_reason}")
        else:
            print(f"GPU benchmarks skipped: {gpu_reason}")
    min_run_time = (
        args.min_run_time if args.min_run_time is not None else (0.5 if args.quick else 1.0)
    )

    env = environment.describe(args.threads, tf32=args.tf32 if gpu_reason is None else None)
    all_cases = list(cases.gemm_cases(impls, args.quick)) + list(
        cases.all_cases(impls, args.quick, args.only)
    )
    estimate = len(all_cases) * (min_run_time * 1.6 + 0.05)
    print(
        f"{len(all_cases)} measurements, about {estimate / 60:.1f} min on this machine "
        f"({args.threads} threads; implementations: {', '.join(impls)})"
    )

    started = time.perf_counter()
    # Interrupted (Ctrl-C, or `timeout`'s SIGTERM on a leased machine), the run still writes what
    # it measured, and says so: a first GPU run lost four minutes of timings to a timeout
    signal.signal(signal.SIGTERM, _interrupt)
    rows, digits_section, digits_results, text_results = [], "", None, None
    env["health"] = {}
    try:
        timing.run(all_cases, min_run_time, args.threads, rows=rows, health=env["health"])
        digits_section, digits_results, text_results = _suites(impls, args)
    except KeyboardInterrupt:
        env["interrupted"] = f"interrupted after {len(rows)} of {len(all_cases)} measurements" + (
            "" if len(rows) < len(all_cases) else ", in the suites that follow them"
        )
        print(f"\n{env['interrupted']}: writing what was measured")
    if not rows:
        sys.exit("interrupted before the first measurement: nothing to write")
    env["wall_time_s"] = round(time.perf_counter() - started, 1)
    env["study_figures"] = not args.no_figures and "interrupted" not in env
    args.out.mkdir(parents=True, exist_ok=True)
    if args.compare is not None:
        from benchmarks import compare

        comparison = compare.section(args.compare, env, rows)
        print(comparison.split("\n\n")[1])  # the counts and the drift
        digits_section = comparison + "\n" + digits_section
    written = report.write(rows, env, args.out, extra=digits_section)
    if text_results is not None:
        from benchmarks import text

        written.append(text.write_json(text_results, args.out))
        if report.have_matplotlib():
            written.append(text.figure(text_results, args.out))
    if digits_results is not None:
        from benchmarks import digits

        written.append(digits.write_json(digits_results, args.out))
        if report.have_matplotlib():
            written.append(digits.figure(digits_results, args.out))
    if not args.no_figures and report.have_matplotlib() and "interrupted" not in env:
        from benchmarks import figures

        written += figures.write(args.out)
    print(f"done in {env['wall_time_s']} s; wrote " + ", ".join(str(p) for p in written))


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _suites(impls, args):
    """The digits and text suites, where asked for: (their markdown, digits' and text's results)."""
    digits_section, digits_results, text_results = "", None, None
    if args.only is None or "digits" in args.only:
        from benchmarks import digits

        reason = digits.sklearn_missing()
        if reason:
            print(f"digits suite skipped: {reason}")
            digits_section = f"## Learning real digits\n\nNot run: {reason}.\n"
        else:
            digits_results = digits.run_suite(impls, args.quick)
            digits_section = digits.markdown(digits_results)
    if args.only is None or "text" in args.only:
        from benchmarks import text

        text_results = text.run_suite(impls, args.quick, steps=args.text_steps)
        digits_section += "\n" + text.markdown(text_results)
    return digits_section, digits_results, text_results


if __name__ == "__main__":
    main()
