"""The benchmark report's logic on synthetic timings with known answers (no timing happens here:
speed is measured in benchmarks/, never asserted in a test)."""
import json
import subprocess
import sys

import pytest

from benchmarks import report

STEP, GEMMS = report.STEP_MODEL, report.GEMMS_MODEL


def row(model, size, label, impl, median, flops=None):
    return {"model": model, "size": size, "size_label": label, "size_unit": "size", "impl": impl,
            "median_s": median, "iqr_s": median / 10, "q25_s": median * 0.95, "q75_s": median * 1.05,
            "blocks": 5, "runs_per_block": 10, "flops": flops, "flop_per_s": flops / median if flops else None}


def synthetic(step_ratio_large):
    medium, large = "64x(784-256-10)", "256x(1024-1024-10)"
    return [
        row(report.PEAK_MODEL, 1024, "1024x1024x1024", "scratch-numpy", 0.02, flops=2e9),
        row(report.PEAK_MODEL, 1024, "1024x1024x1024", "torch-cpu", 0.01, flops=2e9),
        row(STEP, 10**7, medium, "scratch-numpy", 1e-3, flops=1e8),
        row(STEP, 10**7, medium, "torch-cpu", 2e-3, flops=1e8),
        row(GEMMS, 10**7, medium, "scratch-numpy", 0.6e-3, flops=1e8),
        row(GEMMS, 10**7, medium, "torch-cpu", 0.8e-3, flops=1e8),
        row(STEP, 10**8, large, "scratch-numpy", 10e-3 * step_ratio_large, flops=1e9),
        row(STEP, 10**8, large, "torch-cpu", 10e-3, flops=1e9),
    ]


def test_targets_report_met_and_missed_with_the_figures():
    met = "\n".join(report.targets(synthetic(0.9)))
    assert "every size: **met** — 64x(784-256-10) 0.50x, 256x(1024-1024-10) 0.90x" in met
    assert "bare-GEMM speed at 64x(784-256-10): **missed** — the 5 GEMMs take 600 µs of the step's 1000 µs (0.60)" in met
    assert "torch's own step reaches 0.40" in met
    assert "CuPy <= 1.1x torch CUDA eager at large sizes: **not measured**" in met
    missed = "\n".join(report.targets(synthetic(1.5)))
    assert "every size: **missed**" in missed and "worst 1.50x, at 256x(1024-1024-10)" in missed
    assert "do not overlap" in missed  # q25..q75 = 0.95..1.05 of each median: 15 ms vs 10 ms are apart


def test_the_peak_is_the_best_gemm_so_no_row_exceeds_100_percent():
    rows = synthetic(0.9) + [row(GEMMS, 10**8, "big", "scratch-numpy", 1.0, flops=4e11)]  # 400 GFLOP/s
    assert report.peaks(rows)["cpu"] == pytest.approx(4e11)
    md = report.markdown(rows, {"wall_time_s": 1, "cpu": "x", "threads": 2, "python": "3", "numpy": "2",
                                "torch": "2", "numpy_blas": "b", "torch_blas": "b", "gpu": None})
    assert "100.0% (scratch-numpy)" in md and "% peak" in md
    assert "| 64x(784-256-10) | 1 ms ± 100 µs | 2 ms ± 200 µs | 0.50× |" in md


def test_write_produces_every_file(tmp_path):
    rows = synthetic(0.9)
    env = {"wall_time_s": 1, "cpu": "x", "threads": 2, "python": "3", "numpy": "2", "torch": "2",
           "numpy_blas": "b", "torch_blas": "b", "gpu": None}
    written = report.write(rows, env, tmp_path)
    assert sorted(p.name for p in written) == ["report.md", "results.csv", "results.json", "scaling.png"]
    assert json.loads((tmp_path / "results.json").read_text())["results"] == rows
    assert (tmp_path / "scaling.png").stat().st_size > 10_000


def test_the_command_line_refuses_bad_arguments():
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--threads", "0"], capture_output=True, text=True)
    assert run.returncode != 0 and "--threads must be >= 1" in run.stderr
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--device", "tpu"], capture_output=True, text=True)
    assert run.returncode == 2 and "invalid choice" in run.stderr
