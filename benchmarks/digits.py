"""Real data: scikit-learn's handwritten digits, and both twins learning them from the same start.

The data: 1,797 8x8 images of the digits 0-9 that ship inside scikit-learn (no download, works
offline), pixel values 0..16 scaled to [0, 1], split once into train and test sets, stratified by
class, with a fixed seed: the same arrays for both twins. Each model sees them in its own shape:
flat (N, 64) for the MLPs, images (N, 1, 8, 8) for the ConvNet, 8 rows of 8 pixels (N, 8, 8) for
the RowLSTM.

train_both() trains the scratch model and its torch twin from the same weights, on the same
batches in the same order (each package's own `train`), epoch by epoch, and records the loss of
every step, the test accuracy after every epoch and the wall time the epoch's training took.
"""

import time

import numpy as np

MODELS = ("MLP", "ConvNet", "RowLSTM", "RowGRU", "LayerNormMLP")
TARGET_ACCURACY = 0.95


def sklearn_missing():
    """Why the digits cannot be loaded here, or None."""
    import importlib.util

    if importlib.util.find_spec("sklearn") is None:
        return (
            "scikit-learn is not installed (pip install -e '.[bench]'): the digits ship inside it"
        )
    return None


def load(seed=0, test_size=0.25, dtype=np.float32):
    """(X_train, y_train, X_test, y_test): X flat (N, 64) in [0, 1], y int64 class indices; the
    split is stratified (each digit in the same proportion in both sets) and fixed by `seed`."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        (X / 16.0).astype(dtype),
        y.astype(np.int64),
        test_size=test_size,
        stratify=y,
        random_state=seed,
    )
    return X_train, y_train, X_test, y_test


def shaped(X, model):
    """The flat (N, 64) pixels in the shape `model` (a name in MODELS) reads."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if model == "ConvNet":
        return X.reshape(-1, 1, 8, 8)
    if model in ("RowLSTM", "RowGRU"):
        return X.reshape(-1, 8, 8)
    return X


def build(model, package, dtype, seed=0):
    """The model `model` from scratch.models or torch_impl.models (package 'scratch' or 'torch')."""
    if model not in MODELS or package not in ("scratch", "torch"):
        raise ValueError(
            f"model must be one of {MODELS} and package 'scratch' or 'torch', got {model!r}, "
            f"{package!r}"
        )
    if package == "scratch":
        from scratch import models

        kw = dict(dtype=dtype, generator=np.random.default_rng(seed))
    else:
        import torch

        from torch_impl import models

        kw = dict(
            dtype={np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
                np.dtype(dtype)
            ]
        )
    if model in ("RowLSTM", "RowGRU"):
        return models.RowLSTM(cell="LSTM" if model == "RowLSTM" else "GRU", **kw)
    return getattr(models, model)(**kw)


def accuracy(predicted_logits, y):
    return float((np.asarray(predicted_logits).argmax(axis=1) == y).mean())


def train_both(
    model,
    data,
    epochs,
    dtype=np.float32,
    lr=1e-2,
    batch_size=32,
    seed=0,
    implementations=("scratch-numpy", "torch-cpu"),
):
    """Train `model` in each implementation from the same weights; returns {impl: record}, a record
    holding 'losses' (every step), 'accuracy' and 'seconds' (after / for each epoch) and
    'predictions' (the last epoch's test predictions). Adam, cross-entropy; epoch k visits the
    training set in the order seed + k fixes."""
    import torch

    import scratch.nn
    import scratch.optim
    import scratch.two_layer as s2
    import torch_impl.two_layer as t2
    from torch_impl import copy_weights

    X_train, y_train, X_test, y_test = data
    X_train, X_test = shaped(X_train, model), shaped(X_test, model)
    reference = build(model, "scratch", dtype, seed)
    records = {}
    for impl in implementations:
        record = {"losses": [], "accuracy": [], "seconds": []}
        if impl.startswith("scratch"):
            m = build(model, "scratch", dtype, seed)
            m.load_state_dict(reference.state_dict())
            xp = np
            if impl == "scratch-cupy":
                import cupy as xp

                m.to("cuda")
            Xtr, ytr, Xte = xp.asarray(X_train), xp.asarray(y_train), xp.asarray(X_test)
            optimizer, criterion, train = (
                scratch.optim.Adam(m.parameters(), lr=lr),
                scratch.nn.CrossEntropyLoss(),
                s2.train,
            )

            def predict(m=m, Xte=Xte):
                m.eval()
                out = m(Xte)
                m.train()
                return out.get() if hasattr(out, "get") else out
        else:
            device = "cuda" if impl == "torch-cuda" else "cpu"
            m = copy_weights(reference, build(model, "torch", dtype)).to(device)
            Xtr, ytr, Xte = (torch.from_numpy(a).to(device) for a in (X_train, y_train, X_test))
            optimizer, criterion, train = (
                torch.optim.Adam(m.parameters(), lr=lr),
                torch.nn.CrossEntropyLoss(),
                t2.train,
            )

            def predict(m=m, Xte=Xte):
                m.eval()
                with torch.no_grad():
                    out = m(Xte).cpu().numpy()
                m.train()
                return out

        _warm_up(model, impl, dtype, Xtr, ytr, batch_size)
        for epoch in range(epochs):
            started = time.perf_counter()
            record["losses"] += train(
                m,
                Xtr,
                ytr,
                criterion,
                optimizer,
                epochs=1,
                batch_size=batch_size,
                seed=seed + epoch,
            )
            record["seconds"].append(time.perf_counter() - started)
            logits = predict()
            record["accuracy"].append(accuracy(logits, y_test))
        record["predictions"] = np.asarray(logits).argmax(axis=1)
        records[impl] = record
    return records


def _warm_up(model, impl, dtype, X, y, batch_size):
    """Two untimed steps on a throwaway copy: first calls (torch's lazy initialisation, BLAS thread
    pools, allocator growth) belong to no epoch."""
    import torch

    import scratch.nn
    import scratch.optim
    import scratch.two_layer as s2
    import torch_impl.two_layer as t2

    if impl.startswith("scratch"):
        m = build(model, "scratch", dtype)
        if impl == "scratch-cupy":
            m.to("cuda")
        s2.train(
            m,
            X[: 2 * batch_size],
            y[: 2 * batch_size],
            scratch.nn.CrossEntropyLoss(),
            scratch.optim.Adam(m.parameters()),
            batch_size=batch_size,
        )
    else:
        m = build(model, "torch", dtype).to(X.device)
        t2.train(
            m,
            X[: 2 * batch_size],
            y[: 2 * batch_size],
            torch.nn.CrossEntropyLoss(),
            torch.optim.Adam(m.parameters()),
            batch_size=batch_size,
        )


def time_to(record, target=TARGET_ACCURACY):
    """Training seconds until the test accuracy first reached `target` (evaluation not counted), or
    None."""
    elapsed = 0.0
    for seconds, acc in zip(record["seconds"], record["accuracy"]):
        elapsed += seconds
        if acc >= target:
            return elapsed
    return None


# --- the suite: every model, every implementation, a table, findings in words, a figure


def run_suite(impls, quick, dtype=np.float32):
    """{model: {impl: record}} for every model in MODELS; 8 epochs (quick) or 20. GPU
    implementations join where present (scratch-cupy, torch-cuda); the CUDA-graph variant has no
    twin here. Each implementation trains every model before the next starts (as the timings do):
    NumPy's BLAS threads and torch's OpenMP threads each spin for a while after their last call, and
    interleaved they steal each other's cores on a small machine."""
    data = load()
    epochs = 8 if quick else 20
    impls = [i for i in impls if i in ("scratch-numpy", "torch-cpu", "scratch-cupy", "torch-cuda")]
    results = {model: {} for model in MODELS}
    for impl in impls:
        print(f"digits: {impl} trains {', '.join(MODELS)} for {epochs} epochs each", flush=True)
        for model in MODELS:  # the same seed: every implementation starts from the same weights
            results[model].update(
                train_both(model, data, epochs, dtype=dtype, implementations=(impl,))
            )
    return results


def summary(results):
    """One row per model and implementation: what the report's table shows."""
    rows = []
    for model, records in results.items():
        reference = records.get("scratch-numpy")
        for impl, r in records.items():
            twin = records.get(
                "torch-cpu"
                if impl == "scratch-numpy"
                else "scratch-numpy"
                if impl == "torch-cpu"
                else "torch-cuda"
                if impl == "scratch-cupy"
                else "scratch-cupy"
            )
            gap = (
                float(np.max(np.abs(np.array(r["losses"]) - np.array(twin["losses"]))))
                if twin
                else None
            )
            rows.append(
                {
                    "model": model,
                    "impl": impl,
                    "epochs": len(r["accuracy"]),
                    "steps": len(r["losses"]),
                    "final_accuracy": r["accuracy"][-1],
                    "best_accuracy": max(r["accuracy"]),
                    "median_epoch_s": float(np.median(r["seconds"])),
                    "time_to_target_s": time_to(r),
                    "largest_loss_gap": gap,
                    "same_predictions_as_scratch": None
                    if reference is None
                    else bool(np.array_equal(r["predictions"], reference["predictions"])),
                }
            )
    return rows


def markdown(results):
    rows = summary(results)
    lines = [
        "## Learning real digits",
        "",
        "scikit-learn's 1,797 handwritten 8x8 digits, 1,347 to train and 450 to test (stratified, "
        "seed 0); each "
        "model trained in both twins from the same weights on the same batches (Adam, lr 0.01, "
        "batch 32, float32). "
        f"Time to {TARGET_ACCURACY:.0%}: training time until the test accuracy first reached it "
        "(evaluation not counted).",
        "",
        "| model | implementation | test accuracy, last epoch (best) | time per epoch | time to "
        f"{TARGET_ACCURACY:.0%} | "
        "largest gap between the twins' losses | same test predictions as scratch |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t, gap, same = (
            r["time_to_target_s"],
            r["largest_loss_gap"],
            r["same_predictions_as_scratch"],
        )
        reached = "—" if t is None else f"{t * 1e3:.0f} ms"
        gap = "—" if gap is None else f"{gap:.1e}"
        same = "—" if same is None else ("yes" if same else "no")
        lines.append(
            f"| {r['model']} | {r['impl']} | {r['final_accuracy']:.1%} ({r['best_accuracy']:.1%}) "
            "| "
            f"{r['median_epoch_s'] * 1e3:.1f} ms | {reached} | {gap} | {same} |"
        )
    lines += (
        ["", "Findings:"]
        + findings(rows)
        + [
            "",
            "Figure: `digits.png` (each model's test accuracy and training loss "
            "against training time, the twins drawn over each other).",
        ]
    )
    return "\n".join(lines) + "\n"


def findings(rows):
    out = []
    by_model = {}
    for r in rows:
        by_model.setdefault(r["model"], {})[r["impl"]] = r
    for model, cells in by_model.items():
        s, t = cells.get("scratch-numpy"), cells.get("torch-cpu")
        if not (s and t):
            continue
        ratio = s["median_epoch_s"] / t["median_epoch_s"]
        if s["time_to_target_s"] is None or t["time_to_target_s"] is None:
            none = s["time_to_target_s"] is None and t["time_to_target_s"] is None
            reached = f"{'neither' if none else 'only one'} reached {TARGET_ACCURACY:.0%}"
        else:
            first = "scratch" if s["time_to_target_s"] < t["time_to_target_s"] else "torch"
            reached = (
                f"{first} reached {TARGET_ACCURACY:.0%} first ({s['time_to_target_s'] * 1e3:.0f} "
                "against "
                f"{t['time_to_target_s'] * 1e3:.0f} ms)"
            )
        why = (
            "at batch 32 each step's products are small, so what a step costs is the calls around "
            "them, and NumPy's "
            "calls are cheaper than autograd's graph and torch's dispatch"
            if ratio < 1
            else "torch's fused kernels (oneDNN) do the step's work in fewer, faster passes than "
            "NumPy's one-op-at-a-time "
            "calls"
        )
        out.append(
            f"- **{model}**: {reached}; an epoch takes {ratio:.2f}x torch's time in scratch "
            f"({s['median_epoch_s'] * 1e3:.1f} "
            f"against {t['median_epoch_s'] * 1e3:.1f} ms): {why}. The twins' losses differ by at "
            "most "
            f"{s['largest_loss_gap']:.1e} (float32 rounding, compounded over {s['steps']} steps)."
        )
    return out or ["- (no scratch/torch pair to compare)"]


def figure(results, out):
    """digits.png: per model, test accuracy (top) and training loss (bottom) against training
    time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        "scratch-numpy": ("C0", "-", 2.5),
        "torch-cpu": ("C3", "--", 1.3),
        "scratch-cupy": ("C2", "-", 2.0),
        "torch-cuda": ("C4", ":", 1.3),
    }
    fig, axes = plt.subplots(2, len(results), figsize=(4.2 * len(results), 7), squeeze=False)
    for col, (model, records) in enumerate(results.items()):
        ax, bx = axes[0, col], axes[1, col]
        for impl, r in records.items():
            color, style, width = styles[impl]
            ends = np.cumsum(r["seconds"])
            ax.plot(ends, r["accuracy"], style, color=color, lw=width, marker="o", ms=3, label=impl)
            epoch_means = np.array(r["losses"]).reshape(len(r["seconds"]), -1).mean(axis=1)
            bx.semilogy(
                ends, epoch_means, style, color=color, lw=width, marker="o", ms=3, label=impl
            )
        ax.axhline(TARGET_ACCURACY, color="k", lw=0.8, alpha=0.5)
        ax.set_title(model, fontsize=10)
        ax.set_ylim(0.5, 1.0)
        ax.set_xlabel("training time (s)")
        bx.set_xlabel("training time (s)")
        if col == 0:
            ax.set_ylabel(f"test accuracy (line: {TARGET_ACCURACY:.0%})")
            bx.set_ylabel("training loss (mean over the epoch)")
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(alpha=0.3), bx.grid(alpha=0.3)
    fig.suptitle(
        "Both twins learn the handwritten digits, from the same weights on the same batches"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    path = out / "digits.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_json(results, out):
    """digits.json: every record (the loss of every step, accuracy and seconds per epoch) and the
    summary."""
    import json

    path = out / "digits.json"
    plain = {
        m: {
            i: {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in r.items()}
            for i, r in recs.items()
        }
        for m, recs in results.items()
    }
    path.write_text(json.dumps({"summary": summary(results), "records": plain}, indent=1))
    return path
