"""Write the results: results.csv and results.json (every figure), report.md (tables, findings) and
PNG plots (time against size per implementation, log-log; the CPU/GPU crossover where a GPU ran)."""

import csv
import datetime
import functools
import importlib.util
import json
import re
import textwrap
from collections import defaultdict

PEAK_MODEL = "GEMM float32 (peak)"
GEMMS_MODEL = "two-layer step: its 5 GEMMs alone"
STEP_MODEL = "two-layer training step (SGD momentum)"
FORWARD_MODEL, BACKWARD_MODEL = "two-layer forward", "two-layer backward"
LOSS_MODEL = "two-layer step: the loss alone (forward + backward)"
OPTIMIZER_MODEL = "two-layer step: its optimizer step alone"
NORM_MODELS = ("BatchNorm2d forward + backward", "LayerNorm forward + backward")
ONE_PASS = "normalisation's yardstick: one elementwise pass (x * 2) over its input"
TWO_PASSES = "normalisation's yardstick: a product and its sum, two passes ((x * x).sum(-1))"
FUSED = "normalisation's yardstick: a product and its sum, fused (einsum)"
RNN_MODELS = ("LSTM forward + backward", "GRU forward + backward")
ATTENTION_MODEL = "causal self-attention (MultiheadAttention) forward + backward"
SDPA_MODEL = "causal self-attention: its scaled dot-product core alone, forward + backward"
ENCODER_MODEL = "TransformerEncoderLayer (pre-norm, GELU) forward + backward"
GPT_STEP = "GPT training step (AdamW), the text suite's model"
SDPA_PRODUCTS = "causal self-attention's core: its six products alone"
SDPA_SOFTMAX = "causal self-attention's core: its softmax and the softmax's backward alone"
CONV_FORWARD, CONV_STEP = "conv forward", "conv forward + backward"
CONV_GEMMS = "conv forward + backward: its 3 GEMMs alone"
CONV_IM2COL = "conv forward + backward: scratch's window copy (im2col) alone"
CONV_SCATTER = "conv forward + backward: scratch's scatter (transposed conv) alone"
PAIRS = [("scratch-numpy", "torch-cpu"), ("scratch-cupy", "torch-cuda")]
FLOOR = "NumPy floor: "  # + a layer's model: that layer's floor (benchmarks/cases.py says how)
FLOOR_TARGET = 1.3  # scratch within this factor of its floor
# scratch / torch CPU, each layer at most (issue 19's numbers)
LAYER_LIMITS = {"BatchNorm2d": 3.0, "LayerNorm": 4.0}
GPU = ("scratch-cupy", "torch-cuda", "torch-cuda-graph")


def _fmt_time(seconds):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def peaks(rows):
    """The best GEMM FLOP/s measured on each side (CPU, GPU), from the bare-GEMM rows only: the
    square GEMM and a training step's five GEMMs timed alone (whichever ran faster: a warmer machine
    later in the run). Every other row counts the FLOPs of the same products plus elementwise work
    it does not count, so with honest counts no row passes 100%."""
    out = {}
    for r in rows:
        if r["model"] in (PEAK_MODEL, GEMMS_MODEL) and r["flop_per_s"]:
            side = "gpu" if r["impl"] in GPU else "cpu"
            out[side] = max(out.get(side, 0.0), r["flop_per_s"])
    return out


def _percent_of_peak(pct, best):
    """The table's "% peak" cell. A rate above the measured peak is not a percentage of it: an
    algorithm that multiplies less than the count says (torch's Winograd convolutions), or a
    peak measured low, shows there as an effective rate, never as more than 100%."""
    if pct is None:
        return "—"
    if pct > 100:
        return f"effective {best['flop_per_s'] / 1e9:.0f} GFLOP/s, above the peak ({best['impl']})"
    return f"{pct:.1f}% ({best['impl']})"


def verdict(ok, cells):
    """**met** or **missed**, from the rows `cells` (row dicts); **not judged** where one of them
    stayed suspect after being measured again (timing.suspicion): a disturbed time decides
    nothing."""
    suspect = [r for r in cells if r.get("suspect")]
    if suspect:
        r = suspect[0]
        return (
            f"**not judged** (a suspect measurement, marked †: {r['impl']} at {r['size_label']}, "
            f"{r['suspect']})"
        )
    return "**met**" if ok else "**missed**"


def _rows_of(cells_list, impls=("scratch-numpy", "torch-cpu")):
    """Every row of `impls` in a list of {impl: row} cells."""
    return [c[i] for c in cells_list for i in impls if i in c]


def by_model(rows):
    grouped = defaultdict(lambda: defaultdict(dict))  # model -> size -> impl -> row
    for r in rows:
        grouped[r["model"]][r["size"]][r["impl"]] = r
    return grouped


def machine_state(env):
    """(clean, words): whether the machine stayed quiet through the run, judged by the other
    processes running before it and by a sentinel (a fixed 512^3 product in each library) timed
    at the start, the middle and the end. Not clean: other processes holding half the cores or
    more; a sentinel repeat twice as slow as its fastest (a quiet 2-core VM varies by up to half);
    or a library given under 60% of the CPUs its threads ask for (another program held them)."""
    health = env.get("health") or {}
    sentinels = health.get("sentinels") or []
    if not sentinels:
        return True, "not measured"
    threads, cores = health.get("threads", 1), health.get("cores") or 1
    others = health.get("others_running")
    problems = []
    if others is not None and others >= max(1, cores // 2):
        problems.append(f"{others} other processes running on {cores} cores before the run")
    for lib, i in (("NumPy", 0), ("torch", 1)):
        times = [s[i][0] for s in sentinels]
        drift = max(times) / min(times) - 1
        if drift > 1.0:
            problems.append(f"{lib}'s sentinel {drift:.0%} slower in one of its repeats")
        share = min(s[i][1] for s in sentinels)
        if share < 0.6 * threads:
            problems.append(f"{lib}'s sentinel got {share:.1f} CPUs of the {threads} threads asked")
    if problems:
        return False, "the machine was busy (" + "; ".join(problems) + ")"
    counted = "no count of other processes" if others is None else f"{others} other processes"
    return True, (
        f"clean ({counted} running before the run; the sentinel's repeats within 2x of each "
        "other; each library given its threads)"
    )


def threads_got(env):
    """What each library runs with, as measured after pinning (a run stored before these were
    recorded says only what was asked)."""
    if "torch_threads" not in env:
        return "torch pinned to it" + (
            "; NumPy's BLAS not pinned" if "not pinned" in env["numpy_blas"] else ", NumPy too"
        )
    numpy = env.get("numpy_threads")
    numpy = "not pinned (threadpoolctl missing)" if numpy is None else f"{numpy}"
    return f"torch got {env['torch_threads']}, NumPy's BLAS {numpy}"


def measurements_state(rows, env):
    """One line: how many measurements looked disturbed (timing.suspicion), were measured again,
    and stayed suspect."""
    again = (env.get("health") or {}).get("remeasured")
    suspect = [r for r in rows if r.get("suspect")]
    if again is None:
        return "Measurements: not checked one by one (a run from before the checks)."
    if not again:
        return (
            "Measurements: none looked disturbed (each got a CPU's worth of time or more, its "
            "blocks agreed within half their median, and no smaller size took twice as long as a "
            "larger one)."
        )
    return f"Measurements: {again} looked disturbed and were measured again; " + (
        f"**{len(suspect)} stayed suspect** (marked † in the tables, with the reason; no "
        "target is judged from them)."
        if suspect
        else "all of them were plausible the second time."
    )


def markdown(rows, env, extra=""):
    peak = peaks(rows)
    impls = [
        i
        for i in ("scratch-numpy", "torch-cpu", "scratch-cupy", "torch-cuda", "torch-cuda-graph")
        if any(r["impl"] == i for r in rows)
    ]
    lines = [
        "# Benchmarks: scratch (NumPy/CuPy) against torch",
        "",
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC in "
        f"{env['wall_time_s']} s.",
        "",
        *(
            [f"**Incomplete: {env['interrupted']}.** The tables hold what was measured.", ""]
            if env.get("interrupted")
            else []
        ),
        (
            f"Machine state: {machine_state(env)[1]}."
            if machine_state(env)[0]
            else f"**Not a clean run: {machine_state(env)[1]}.** No target below is judged met "
            "or missed from it; run it again on a quiet machine."
        ),
        "",
        measurements_state(rows, env),
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {env['cpu']} |",
        f"| threads | {env['threads']} asked: {threads_got(env)}; "
        f"OMP_WAIT_POLICY={env.get('omp_wait_policy', '(unset)')} |",
        f"| versions | Python {env['python']}, NumPy {env['numpy']}, torch {env['torch']} |",
        f"| BLAS | NumPy: {env['numpy_blas']}; torch: {env['torch_blas']} |",
    ]
    if env.get("gpu"):
        lines.append(
            f"| GPU | {env['gpu']}, CUDA {env['cuda']}, CuPy {env['cupy']}, TF32 "
            f"{'on' if env['tf32'] else 'off'} |"
        )
    else:
        lines.append("| GPU | none in this run |")
    lines += [
        "",
        "Times are medians over blocks of runs chosen by `torch.utils.benchmark`; ± is the",
        "interquartile range. *scratch/torch* below 1 means the handwritten code is faster.",
        "*% peak* is the achieved FLOP/s over the best float32 GEMM measured in this run on that "
        "side.",
        "",
    ]
    if peak:
        lines.append(
            "**Measured GEMM peak:** "
            + ", ".join(f"{side.upper()} {v / 1e9:.1f} GFLOP/s" for side, v in peak.items())
        )
        lines.append("")
    findings = []
    for model, sizes in by_model(rows).items():
        lines += [f"## {model}", ""]
        header = (
            ["size"]
            + impls
            + [
                f"{a.split('-')[0]}/{b.split('-')[0]} ({b.split('-')[1]})"
                for a, b in PAIRS
                if a in impls and b in impls
            ]
        )
        if any(r["flops"] for s in sizes.values() for r in s.values()):
            header.append("% peak (best impl)")
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for size in sorted(sizes):
            cells = sizes[size]
            row = [next(iter(cells.values()))["size_label"]]
            for impl in impls:
                r = cells.get(impl)
                row.append(
                    f"{_fmt_time(r['median_s'])} ± {_fmt_time(r['iqr_s'])}"
                    + (" †" if r.get("suspect") else "")
                    if r
                    else "—"
                )
            for a, b in PAIRS:
                if a in impls and b in impls:
                    if a in cells and b in cells:
                        ratio = cells[a]["median_s"] / cells[b]["median_s"]
                        row.append(f"{ratio:.2f}×")
                        findings.append((model, cells[a]["size_label"], a, b, ratio))
                    else:
                        row.append("—")
            if "% peak (best impl)" in header:
                best = min(cells.values(), key=lambda r: r["median_s"])
                side = "gpu" if best["impl"] in GPU else "cpu"
                pct = (
                    100 * best["flop_per_s"] / peak[side]
                    if best["flop_per_s"] and side in peak
                    else None
                )
                row.append(_percent_of_peak(pct, best))
            lines.append("| " + " | ".join(row) + " |")
        suspects = [r for cells in sizes.values() for r in cells.values() if r.get("suspect")]
        if suspects:
            lines.append("")
            lines += [
                f"† suspect, measured twice: {r['impl']} at {r['size_label']}: {r['suspect']}."
                for r in suspects
            ]
        lines.append("")
    verdicts = targets(rows)
    if not machine_state(env)[0]:  # a busy machine's numbers decide nothing
        verdicts = [
            re.sub(r"\*\*(met|missed)\*\*", "**not judged** (the machine was busy)", v)
            for v in verdicts
        ]
    lines += ["## Targets", ""] + verdicts + [""]
    lines += floor_section(by_model(rows))
    lines += ["## Findings", ""] + _findings(findings, rows)
    if extra:
        lines += [""] + extra.rstrip("\n").split("\n")
    lines += [
        "",
        "Plots: `scaling.png` (time against size, log-log)"
        + (", `crossover.png` (where the GPU starts to win)" if env.get("gpu") else "")
        + (
            "; study figures, the twins drawn over each other: `study_gradient_descent.png`, "
            "`study_perceptron.png`, `study_two_layer.png`."
            if env.get("study_figures", True)
            else "."
        ),
    ]
    return "\n".join(lines) + "\n"


def targets(rows):
    """The project's speed targets, each met or missed, with the figures that decide it."""
    grouped = by_model(rows)
    steps, gemms = grouped.get(STEP_MODEL, {}), grouped.get(GEMMS_MODEL, {})
    out = []
    sizes = [size for size, c in sorted(steps.items()) if "scratch-numpy" in c and "torch-cpu" in c]
    pairs = [steps[size] for size in sizes]
    ratios = [
        (
            c["scratch-numpy"]["size_label"],
            c["scratch-numpy"]["median_s"] / c["torch-cpu"]["median_s"],
        )
        for c in pairs
    ]
    if ratios:
        worst_i = max(range(len(ratios)), key=lambda i: ratios[i][1])
        worst, c = ratios[worst_i][1], pairs[worst_i]
        overlap = (
            c["scratch-numpy"]["q25_s"] <= c["torch-cpu"]["q75_s"]
            and c["torch-cpu"]["q25_s"] <= c["scratch-numpy"]["q75_s"]
        )
        bare = gemms.get(sizes[worst_i], {})
        why = ""
        # split the step into its GEMMs and the rest
        if "scratch-numpy" in bare and "torch-cpu" in bare:
            s_gemm, t_gemm = bare["scratch-numpy"]["median_s"], bare["torch-cpu"]["median_s"]
            s_rest, t_rest = (
                c["scratch-numpy"]["median_s"] - s_gemm,
                c["torch-cpu"]["median_s"] - t_gemm,
            )
            why = (
                f"; there its 5 GEMMs alone take {s_gemm / t_gemm:.2f}x torch's time (NumPy's BLAS "
                "against "
                f"torch's, on the same products)"
                + (
                    f" and the rest of the step {s_rest / t_rest:.2f}x"
                    if s_rest > 0 and t_rest > 0
                    else ""
                )
            )
        out.append(
            f"- Scratch NumPy training step <= 1.0x torch CPU eager at every size: "
            f"{verdict(worst <= 1.0, _rows_of(pairs))} — "
            + ", ".join(f"{s} {r:.2f}x" for s, r in ratios)
            + (
                ""
                if worst <= 1.0
                else f" (worst {worst:.2f}x, at {ratios[worst_i][0]}; the two interquartile "
                f"ranges {'overlap: a tie within this run' if overlap else 'do not overlap'}{why})"
            )
        )
    rest = [
        (
            c["scratch-numpy"]["size_label"],
            c["scratch-numpy"]["median_s"] - gemms[size]["scratch-numpy"]["median_s"],
            c["torch-cpu"]["median_s"] - gemms[size]["torch-cpu"]["median_s"],
        )
        for size, c in sorted(steps.items())
        if "scratch-numpy" in c
        and "torch-cpu" in c
        and "scratch-numpy" in gemms.get(size, {})
        and "torch-cpu" in gemms.get(size, {})
    ]
    if rest:
        worse = [label for label, s, t in rest if s > t]
        out.append(
            "- Besides its GEMMs, the scratch step spends no more than torch's step does (each "
            "step's time less "
            "its five GEMMs timed bare, same run): "
            + (
                verdict(
                    not worse, _rows_of(pairs + [gemms[size] for size in sizes if size in gemms])
                )
                + ("" if not worse else " at " + ", ".join(worse))
            )
            + " — "
            + ", ".join(
                f"{label} {_fmt_time(max(s, 0))} against {_fmt_time(max(t, 0))}"
                for label, s, t in rest
            )
            + "."
        )
        medium = [
            size
            for size, c in steps.items()
            if c.get("scratch-numpy", {}).get("size_label") == "64x(784-256-10)"
        ]
        if medium:
            out[-1] += step_breakdown(grouped, medium[0])
    norms = [
        (
            model,
            c["scratch-numpy"]["size_label"],
            c["scratch-numpy"]["median_s"] / c["torch-cpu"]["median_s"],
        )
        for model in NORM_MODELS
        for _, c in sorted(grouped.get(model, {}).items())
        if "scratch-numpy" in c and "torch-cpu" in c
    ]
    if norms:
        out.append(
            "- Normalisation forward + backward <= "
            + " and ".join(f"{limit}x torch CPU ({name})" for name, limit in LAYER_LIMITS.items())
            + ": "
            + verdict(
                all(r <= LAYER_LIMITS[model.split()[0]] for model, _, r in norms),
                _rows_of([c for m in NORM_MODELS for c in grouped.get(m, {}).values()]),
            )
            + " — "
            + ", ".join(f"{model.split()[0]} at {label} {r:.2f}x" for model, label, r in norms)
            + "."
            + norm_passes(grouped)
        )
    out += conv_targets(grouped)
    rnn = [
        (
            model.split()[0],
            c["scratch-numpy"]["size_label"],
            c["scratch-numpy"]["median_s"] / c["torch-cpu"]["median_s"],
        )
        for model in RNN_MODELS
        for _, c in sorted(grouped.get(model, {}).items())
        if "scratch-numpy" in c and "torch-cpu" in c
    ]
    for size, limit in (("small", 1.5), ("medium", 1.2)):
        at = [(cell, r) for cell, label, r in rnn if label.startswith(size)]
        if at:
            out.append(
                f"- Scratch LSTM and GRU forward + backward <= {limit}x torch CPU at the {size} "
                "size: "
                + verdict(
                    all(r <= limit for _, r in at),
                    _rows_of(
                        [
                            c
                            for m in RNN_MODELS
                            for c in grouped.get(m, {}).values()
                            if next(iter(c.values()))["size_label"].startswith(size)
                        ]
                    ),
                )
                + " — "
                + ", ".join(f"{cell} {r:.2f}x" for cell, r in at)
                + "."
            )
    out += floor_target(grouped)
    out += attention_targets(grouped)
    out += gpt_targets(grouped)
    gpu = [c for _, c in sorted(steps.items()) if "scratch-cupy" in c and "torch-cuda" in c]
    if gpu:
        # judged at the largest size measured (the target's "large"); every size's ratio is listed
        ratios = [
            (
                c["torch-cuda"]["size_label"],
                c["scratch-cupy"]["median_s"] / c["torch-cuda"]["median_s"],
            )
            for c in gpu
        ]
        label, r = ratios[-1]
        graph = gpu[-1].get("torch-cuda-graph")
        out.append(
            "- Scratch on CuPy <= 1.1x torch CUDA eager at large sizes: "
            f"{verdict(r <= 1.1, _rows_of([gpu[-1]], ('scratch-cupy', 'torch-cuda')))} "
            f"— {r:.2f}x at {label}, the largest size measured (all sizes: "
            + ", ".join(f"{s} {x:.2f}x" for s, x in ratios)
            + ")"
            + (
                "; torch replayed from a CUDA graph takes "
                f"{graph['median_s'] / gpu[-1]['torch-cuda']['median_s']:.2f}x "
                "of its eager time there, the launch overhead's share"
                if graph
                else ""
            )
            + "."
        )
    else:
        out.append(
            "- Scratch on CuPy <= 1.1x torch CUDA eager at large sizes: **not measured** — no GPU "
            "in this run"
        )
    return out


def floors(grouped, pair=("scratch-numpy", "torch-cpu")):
    """[(layer model, size label, scratch row, floor row, torch row or None)] for every layer
    whose NumPy floor was timed, in the order of the report's models."""
    scratch_impl, torch_impl = pair
    out = []
    for model, sizes in grouped.items():
        if model.startswith(FLOOR):
            continue
        for size, cells in sorted(sizes.items()):
            floor = grouped.get(FLOOR + model, {}).get(size, {}).get(scratch_impl)
            if floor is not None and scratch_impl in cells:
                row = cells[scratch_impl]
                out.append((model, row["size_label"], row, floor, cells.get(torch_impl)))
    return out


def floor_target(grouped):
    """Every layer within FLOOR_TARGET of its NumPy floor: what is left is slack in the code, not
    the cost of NumPy itself."""
    found = floors(grouped)
    if not found:
        return []
    ratios = [(m, label, s["median_s"] / f["median_s"]) for m, label, s, f, _ in found]
    return [
        f"- Every layer within {FLOOR_TARGET}x of its NumPy floor (its products bare and the "
        "elementwise passes its formulas need, timed in this run; the section below): "
        + verdict(
            all(r <= FLOOR_TARGET for *_, r in ratios),
            [row for _, _, s, f, _ in found for row in (s, f)],
        )
        + " — "
        + ", ".join(f"{_short(m)} at {label.split(',')[0]} {r:.2f}x" for m, label, r in ratios)
        + "."
    ]


def _short(model):
    return (
        model.replace(" forward + backward", "")
        .replace(" (SGD momentum)", "")
        .replace("two-layer training step", "two-layer step")
    )


def floor_section(grouped):
    """The table that splits torch's lead in two: scratch / floor is slack in the handwritten
    code; floor / torch is what NumPy itself costs against torch's fused, threaded kernels."""
    lines = []
    for pair in PAIRS:
        found = floors(grouped, pair)
        if not found:
            continue
        lines += [
            "",
            f"### {pair[0]} against its floor, and {pair[1]}",
            "",
            "| layer | size | scratch | NumPy floor | torch | scratch / floor | scratch / torch | "
            "floor / torch |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for model, label, s, f, t in found:
            torch_cells = (
                [
                    _fmt_time(t["median_s"]),
                    f"{s['median_s'] / t['median_s']:.2f}×",
                    f"{f['median_s'] / t['median_s']:.2f}×",
                ]
                if t
                else ["—", "—", "—"]
            )
            lines.append(
                f"| {_short(model)} | {label} | {_fmt_time(s['median_s'])} | "
                f"{_fmt_time(f['median_s'])} | {torch_cells[0]} | "
                f"{s['median_s'] / f['median_s']:.2f}× | {torch_cells[1]} | {torch_cells[2]} |"
            )
    if not lines:
        return []
    return (
        [
            "## The NumPy floor: what torch's lead is made of",
            "",
            "Each layer's *floor* is what NumPy cannot do with less: its matrix products "
            "timed bare and the elementwise passes its formulas need (counted in "
            "`benchmarks/cases.py`, each one NumPy call on an array of the layer's shape), "
            "timed in this run. *scratch / floor* is slack in the handwritten code; *floor / "
            "torch* is what NumPy itself costs against torch's fused, threaded kernels (above 1: "
            "even the floor is slower than torch).",
        ]
        + lines
        + [""]
    )


def attention_targets(grouped):
    """Attention <= 1.5x torch at the small size and <= 2.0x at the medium one; the encoder layer
    <= 2.0x; with the core's ratio beside, to say where the time goes."""
    out = []
    limits = {
        (ATTENTION_MODEL, "small"): 1.5,
        (ATTENTION_MODEL, "medium"): 2.0,
        (ENCODER_MODEL, "small"): 2.0,
    }
    for (model, size), limit in limits.items():
        for _, c in sorted(grouped.get(model, {}).items()):
            if not ("scratch-numpy" in c and "torch-cpu" in c):
                continue
            label = c["scratch-numpy"]["size_label"]
            if not label.startswith(size):
                continue
            r = c["scratch-numpy"]["median_s"] / c["torch-cpu"]["median_s"]
            core = next(
                (
                    cc
                    for cc in grouped.get(SDPA_MODEL, {}).values()
                    if cc.get("scratch-numpy", {}).get("size_label") == label and "torch-cpu" in cc
                ),
                None,
            )
            why = ""
            if core is not None and model == ATTENTION_MODEL:
                s_core, t_core = core["scratch-numpy"]["median_s"], core["torch-cpu"]["median_s"]
                why = (
                    f" (its scaled dot-product core alone: {s_core / t_core:.2f}x, "
                    f"{_fmt_time(s_core)} of scratch's {_fmt_time(c['scratch-numpy']['median_s'])}"
                    + _core_parts(grouped, label)
                    + ")"
                )
            out.append(
                f"- {model.split(' forward')[0]} <= {limit}x torch CPU at the {size} size: "
                + verdict(r <= limit, _rows_of([c]))
                + f" — {r:.2f}x at {label}{why}."
            )
    return out


def gpt_targets(grouped):
    """The GPT step <= 1.0x torch at the suite's width (64), and where scratch stops being
    faster."""
    cells = [
        c
        for _, c in sorted(grouped.get(GPT_STEP, {}).items())
        if "scratch-numpy" in c and "torch-cpu" in c
    ]
    if not cells:
        return []
    ratios = [
        (
            c["scratch-numpy"]["size_label"],
            c["scratch-numpy"]["median_s"] / c["torch-cpu"]["median_s"],
        )
        for c in cells
    ]
    at = dict(ratios).get("n_embd=64")
    faster = [label for label, r in ratios if r < 1]
    crossing = next((label for label, r in ratios if r >= 1), None)
    said = (
        "scratch is faster at every width measured"
        if not crossing
        else f"torch is faster from {crossing} on"
        if not faster
        else f"scratch is faster up to {faster[-1]}, torch from {crossing}"
    )
    return [
        "- GPT training step <= 1.0x torch CPU at the text suite's width (n_embd=64): "
        + (
            "**not measured**"
            if at is None
            else verdict(
                at <= 1.0,
                _rows_of([c for c in cells if c["scratch-numpy"]["size_label"] == "n_embd=64"]),
            )
            + f" — {at:.2f}x"
        )
        + "; all widths: "
        + ", ".join(f"{label} {r:.2f}x" for label, r in ratios)
        + f" ({said})."
    ]


def _core_parts(grouped, label):
    """Where the core's time goes in each twin: its six products alone, its softmax (forward and
    backward) alone; the rest is the masking and the layout."""
    parts = []
    for model, what in ((SDPA_PRODUCTS, "products"), (SDPA_SOFTMAX, "softmax")):
        cells = next(
            (
                c
                for c in grouped.get(model, {}).values()
                if c.get("scratch-numpy", {}).get("size_label") == label
            ),
            None,
        )
        if cells and "torch-cpu" in cells:
            parts.append(
                f"{what} {_fmt_time(cells['scratch-numpy']['median_s'])} against "
                f"torch's {_fmt_time(cells['torch-cpu']['median_s'])}"
            )
    return ("; of the core: " + ", ".join(parts)) if parts else ""


def norm_passes(grouped):
    """What the normalisation layers cost in elementwise passes over their input, each twin's own,
    and what fusing a product with its sum saves in NumPy: the measured reason behind the ratio."""
    said = []
    for model in NORM_MODELS:
        for size, c in sorted(grouped.get(model, {}).items()):
            one = grouped.get(ONE_PASS, {}).get(size, {})
            if not all(k in c and k in one for k in ("scratch-numpy", "torch-cpu")):
                continue
            s_pass, t_pass = one["scratch-numpy"]["median_s"], one["torch-cpu"]["median_s"]
            said.append(
                f"{model.split()[0]}: one pass over its input takes {_fmt_time(s_pass)} in NumPy "
                "(one core) and "
                f"{_fmt_time(t_pass)} in torch, so the forward + backward is worth "
                f"{c['scratch-numpy']['median_s'] / s_pass:.0f} NumPy passes against "
                f"{c['torch-cpu']['median_s'] / t_pass:.0f} of torch's (fused kernels)"
            )
            two, fused = (
                grouped.get(TWO_PASSES, {}).get(size, {}),
                grouped.get(FUSED, {}).get(size, {}),
            )
            if "scratch-numpy" in two and "scratch-numpy" in fused:
                said[-1] += (
                    "; fusing a product with its sum (einsum) takes "
                    f"{_fmt_time(fused['scratch-numpy']['median_s'])} "
                    f"against {_fmt_time(two['scratch-numpy']['median_s'])} for the two passes"
                )
    return (" " + "; ".join(said) + ".") if said else ""


def conv_targets(grouped):
    """Conv forward + backward <= 2.0x torch CPU at each size; its GEMMs >= 0.6 of the peak at the
    ResNet size; and where scratch's time goes at each size, measured part by part."""
    steps, gemms = grouped.get(CONV_STEP, {}), grouped.get(CONV_GEMMS, {})
    pairs = [c for _, c in sorted(steps.items()) if "scratch-numpy" in c and "torch-cpu" in c]
    if not pairs:
        return []
    ratios = [
        (
            c["scratch-numpy"]["size_label"],
            c["scratch-numpy"]["median_s"] / c["torch-cpu"]["median_s"],
        )
        for c in pairs
    ]
    out = [
        "- Scratch conv forward + backward <= 2.0x torch CPU at each size: "
        + verdict(all(r <= 2.0 for _, r in ratios), _rows_of(pairs))
        + " — "
        + ", ".join(f"{label.split(' ')[0]} {r:.2f}x" for label, r in ratios)
        + "."
    ]
    peak = peaks(
        [r for sizes in grouped.values() for cells in sizes.values() for r in cells.values()]
    ).get("cpu")
    resnet = [
        c["scratch-numpy"]
        for c in gemms.values()
        if "scratch-numpy" in c and c["scratch-numpy"]["size_label"].startswith("ResNet")
    ]
    if resnet and peak:
        fraction = resnet[0]["flop_per_s"] / peak
        out.append(
            f"- Scratch conv's matrix products >= 0.6 of the GEMM peak at the ResNet size: "
            f"{verdict(fraction >= 0.6, resnet)} — {fraction:.2f} "
            f"({resnet[0]['flop_per_s'] / 1e9:.0f} "
            f"of {peak / 1e9:.0f} GFLOP/s)."
        )
    where = []
    for size, c in sorted(steps.items()):
        parts = [
            grouped.get(model, {}).get(size, {}).get("scratch-numpy")
            for model in (CONV_GEMMS, CONV_IM2COL, CONV_SCATTER)
        ]
        if "scratch-numpy" in c and all(parts):
            total = c["scratch-numpy"]["median_s"]
            gemm, copy, scatter = (p["median_s"] for p in parts)
            where.append(
                f"{c['scratch-numpy']['size_label'].split(' ')[0]} {_fmt_time(total)}: GEMMs "
                f"{_fmt_time(gemm)}, "
                f"window copy {_fmt_time(copy)}, scatter {_fmt_time(scatter)}, the rest (layout "
                "copies, padding, "
                f"bias) {_fmt_time(max(total - gemm - copy - scatter, 0))}"
            )
    if where:
        out.append(
            "  Where scratch's forward + backward goes, each part timed alone: "
            + "; ".join(where)
            + "."
        )
    return out


PARTS = [
    ("forward", FORWARD_MODEL),
    ("loss", LOSS_MODEL),
    ("backward", BACKWARD_MODEL),
    ("optimizer", OPTIMIZER_MODEL),
]


def step_breakdown(grouped, size):
    """The profile of a training step at `size`: its parts, each timed alone, for each CPU
    implementation."""
    out = []
    for impl in ("scratch-numpy", "torch-cpu"):
        parts = [(name, grouped.get(model, {}).get(size, {}).get(impl)) for name, model in PARTS]
        step = grouped[STEP_MODEL][size].get(impl)
        if step is None or any(r is None for _, r in parts):
            continue
        us = {name: r["median_s"] * 1e6 for name, r in parts}
        out.append(
            f"{impl.split('-')[0]}: "
            + ", ".join(f"{name} {t:.0f}" for name, t in us.items())
            + f" µs (sum {sum(us.values()):.0f}; the step {step['median_s'] * 1e6:.0f})"
        )
        if impl == "scratch-numpy" and "scratch-numpy" in grouped.get(GEMMS_MODEL, {}).get(
            size, {}
        ):
            rest = (
                step["median_s"] - grouped[GEMMS_MODEL][size]["scratch-numpy"]["median_s"]
            ) * 1e6
            out[-1] += (
                f"; besides its GEMMs the scratch step spends {rest:.0f} µs, of which the "
                "optimizer "
                f"takes {us['optimizer']:.0f} and the loss {us['loss']:.0f}"
            )
    return (
        (" The step's parts at 64x(784-256-10), each timed alone: " + "; ".join(out) + ".")
        if out
        else ""
    )


def _findings(ratios, rows):
    out = []
    for a, b in PAIRS:
        rs = [(m, s, r) for (m, s, x, y, r) in ratios if (x, y) == (a, b) and m != PEAK_MODEL]
        if not rs:
            continue
        faster = [f"{m} at {s} ({r:.2f}×)" for m, s, r in rs if r < 1]
        slower = [f"{m} at {s} ({r:.2f}×)" for m, s, r in rs if r >= 1]
        out.append(
            f"- **{a} vs {b}**: faster in {len(faster)} of {len(rs)} cases."
            + (f" Slower in: {'; '.join(slower)}." if slower else "")
        )
    for model, sizes in by_model(rows).items():
        if model == PEAK_MODEL:
            continue
        said = []
        for cpu, gpu, who in CROSSINGS:
            where = crossover(sizes, cpu, gpu)
            if where is not None:
                said.append(
                    f"{who} on the GPU beats {who} on the CPU from {where} on"
                    if where
                    else f"{who} on the GPU does not beat {who} on the CPU even at the largest "
                    "size measured"
                )
        if said:
            out.append(f"- **{model}**: " + "; ".join(said) + ".")
    return out or ["- (no pairs to compare)"]


CROSSINGS = [("torch-cpu", "torch-cuda", "torch"), ("scratch-numpy", "scratch-cupy", "scratch")]


def crossover(sizes, cpu, gpu):
    """The size label from which `gpu` is faster than `cpu`, at that size and every larger one; ""
    if it is not faster at the largest size; None if the pair was not measured. (From, not the first
    win: a win at a tiny size followed by losses is noise, not a crossover.)"""
    both = [s for s in sorted(sizes) if cpu in sizes[s] and gpu in sizes[s]]
    if not both:
        return None
    last_loss = max(
        (i for i, s in enumerate(both) if sizes[s][gpu]["median_s"] >= sizes[s][cpu]["median_s"]),
        default=-1,
    )
    return "" if last_loss == len(both) - 1 else sizes[both[last_loss + 1]][cpu]["size_label"]


@functools.cache  # say it once
def have_matplotlib():
    """True, or False after saying that the pictures are skipped (the tables and data are
    written)."""
    if importlib.util.find_spec("matplotlib") is None:
        print(
            "matplotlib is not installed: no PNG plots this time (pip install -e '.[bench]'); "
            "report.md, results.csv and results.json are written"
        )
        return False
    return True


def plots(rows, env, out):
    if not have_matplotlib():
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grouped = by_model(rows)
    # a curve needs two sizes at least: one-size rows (the GEMM peak, the normalisation yardsticks)
    # are in the tables
    models = [m for m in grouped if m != PEAK_MODEL and len(grouped[m]) > 1]
    if not models:  # --only digits (or normalization): nothing with a curve was timed
        return []
    units = {r["model"]: r["size_unit"] for r in rows}
    cols = 3
    fig, axes = plt.subplots(
        (len(models) + cols - 1) // cols,
        cols,
        figsize=(5 * cols, 3.8 * ((len(models) + cols - 1) // cols)),
        squeeze=False,
    )
    styles = {
        "scratch-numpy": ("C0", "-o"),
        "torch-cpu": ("C1", "-s"),
        "scratch-cupy": ("C2", "--o"),
        "torch-cuda": ("C3", "--s"),
        "torch-cuda-graph": ("C4", ":^"),
    }
    for ax, model in zip(axes.flat, models):
        for impl, (color, style) in styles.items():
            pts = sorted((s, c[impl]["median_s"]) for s, c in grouped[model].items() if impl in c)
            if pts:
                ax.loglog(*zip(*pts), style, color=color, label=impl)
        ax.set_title(textwrap.fill(model, 48), fontsize=10)
        ax.set_xlabel(units[model], fontsize=8)
        ax.set_ylabel("median time per call (s)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(models) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"scratch vs torch — {env['cpu']}, {env['threads']} threads"
        + (f"; {env['gpu']}" if env.get("gpu") else "")
    )
    fig.tight_layout(rect=(0, 0, 1, 0.975))  # keep the suptitle clear of the first row's titles
    written = [out / "scaling.png"]
    fig.savefig(written[0], dpi=110)
    plt.close(fig)

    if env.get("gpu"):
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
        for ax, (cpu, gpu, who) in zip(axes, CROSSINGS):
            for i, model in enumerate(models):
                pts = sorted(
                    (s, c[cpu]["median_s"] / c[gpu]["median_s"])
                    for s, c in grouped[model].items()
                    if cpu in c and gpu in c
                )
                if pts:
                    ax.loglog(*zip(*pts), "-o", color=f"C{i % 10}", label=model)
            ax.axhline(1.0, color="k", lw=1)
            ax.set_title(f"{who}: {cpu} time / {gpu} time", fontsize=10)
            ax.set_xlabel("problem size (each model's own unit, see scaling.png)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
        axes[0].set_ylabel("CPU time / GPU time  (above 1: the GPU wins)")
        fig.suptitle(
            f"Where the GPU starts to win — {env['gpu']} against {env['cpu']}, {env['threads']} "
            "threads",
            fontsize=10,
        )
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        written.append(out / "crossover.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written


def write(rows, env, out, extra=""):
    keys = list(rows[0])
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    with open(out / "results.json", "w") as f:
        json.dump({"environment": env, "results": rows}, f, indent=1)
    (out / "report.md").write_text(markdown(rows, env, extra))
    return [out / "report.md", out / "results.csv", out / "results.json"] + plots(rows, env, out)
