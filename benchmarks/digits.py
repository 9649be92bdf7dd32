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
        return "scikit-learn is not installed (pip install -e '.[bench]'): the digits ship inside it"
    return None


def load(seed=0, test_size=0.25, dtype=np.float32):
    """(X_train, y_train, X_test, y_test): X flat (N, 64) in [0, 1], y int64 class indices; the split is
    stratified (each digit in the same proportion in both sets) and fixed by `seed`."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split((X / 16.0).astype(dtype), y.astype(np.int64),
                                                        test_size=test_size, stratify=y, random_state=seed)
    return X_train, y_train, X_test, y_test


def shaped(X, model):
    """The flat (N, 64) pixels in the shape `model` (a name in MODELS) reads."""
    if model == "ConvNet":
        return X.reshape(-1, 1, 8, 8)
    if model in ("RowLSTM", "RowGRU"):
        return X.reshape(-1, 8, 8)
    return X


def build(model, package, dtype, seed=0):
    """The model `model` from scratch.models or torch_impl.models (package 'scratch' or 'torch')."""
    if package == "scratch":
        from scratch import models
        kw = dict(dtype=dtype, generator=np.random.default_rng(seed))
    else:
        import torch

        from torch_impl import models
        kw = dict(dtype={np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(dtype)])
    if model in ("RowLSTM", "RowGRU"):
        return models.RowLSTM(cell="LSTM" if model == "RowLSTM" else "GRU", **kw)
    return getattr(models, model)(**kw)


def accuracy(predicted_logits, y):
    return float((np.asarray(predicted_logits).argmax(axis=1) == y).mean())


def train_both(model, data, epochs, dtype=np.float32, lr=1e-2, batch_size=32, seed=0, implementations=("scratch-numpy", "torch-cpu")):
    """Train `model` in each implementation from the same weights; returns {impl: record}, a record holding
    'losses' (every step), 'accuracy' and 'seconds' (after / for each epoch) and 'predictions' (the last
    epoch's test predictions). Adam, cross-entropy; epoch k visits the training set in the order seed + k fixes."""
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
            optimizer, criterion, train = scratch.optim.Adam(m.parameters(), lr=lr), scratch.nn.CrossEntropyLoss(), s2.train

            def predict(m=m, Xte=Xte):
                m.eval()
                out = m(Xte)
                m.train()
                return out.get() if hasattr(out, "get") else out
        else:
            device = "cuda" if impl == "torch-cuda" else "cpu"
            m = copy_weights(reference, build(model, "torch", dtype)).to(device)
            Xtr, ytr, Xte = (torch.from_numpy(a).to(device) for a in (X_train, y_train, X_test))
            optimizer, criterion, train = torch.optim.Adam(m.parameters(), lr=lr), torch.nn.CrossEntropyLoss(), t2.train

            def predict(m=m, Xte=Xte):
                m.eval()
                with torch.no_grad():
                    out = m(Xte).cpu().numpy()
                m.train()
                return out
        for epoch in range(epochs):
            started = time.perf_counter()
            record["losses"] += train(m, Xtr, ytr, criterion, optimizer, epochs=1, batch_size=batch_size, seed=seed + epoch)
            record["seconds"].append(time.perf_counter() - started)
            logits = predict()
            record["accuracy"].append(accuracy(logits, y_test))
        record["predictions"] = np.asarray(logits).argmax(axis=1)
        records[impl] = record
    return records


def time_to(record, target=TARGET_ACCURACY):
    """Training seconds until the test accuracy first reached `target` (evaluation not counted), or None."""
    elapsed = 0.0
    for seconds, acc in zip(record["seconds"], record["accuracy"]):
        elapsed += seconds
        if acc >= target:
            return elapsed
    return None
