"""A GPT that learns Python's manual: both twins train the same GPT on the same batches.

The text is CPython's own reference manual as shipped in every installation
(`pydoc_data.topics`, PSF licence): nothing is downloaded. It differs slightly between Python
releases, so `load` says what it read. Characters are the tokens; the first 90% of the text
trains, the last 10% validates. Losses are reported in bits per character (cross-entropy / ln 2).
"""

import json
import math
import time

import numpy as np

LN2 = math.log(2)
# the suite's model and run: about a minute for both twins in the quick sweep on 2 cores
CONFIG = dict(block_size=64, n_layer=2, n_head=4, n_embd=64)
QUICK, FULL = dict(steps=400, batch=16), dict(steps=1500, batch=16)
EVAL_EVERY, EVAL_BATCHES, LR = 25, 4, 3e-3
WEIGHT_DECAY = 0.01  # AdamW's default, on the matrices only (GPT.param_groups)
TARGET_BITS = 3.5  # validation bits per character: "time to target" is measured to here


def load(split=0.9):
    """(train ids, validation ids, vocabulary string, description): the manual's characters."""
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[k] for k in sorted(topics))
    vocab = "".join(sorted(set(text)))
    ids = encode(text, vocab)
    n = int(len(ids) * split)
    info = (
        f"CPython's reference manual (pydoc_data.topics): {len(text):,} characters, "
        f"{len(vocab)} distinct"
    )
    return ids[:n], ids[n:], vocab, info


def encode(text, vocab):
    index = {c: i for i, c in enumerate(vocab)}
    return np.array([index[c] for c in text], dtype=np.int64)


def decode(ids, vocab):
    return "".join(vocab[int(i)] for i in ids)


def unigram_bits(ids, vocab_size):
    """The entropy of the characters' frequencies, in bits: what a model that learns nothing
    about context can reach at best."""
    p = np.bincount(ids, minlength=vocab_size) / len(ids)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def batch(ids, block_size, batch_size, rng):
    """(x, y): batch_size windows of block_size ids at random starts, y the next character of
    each position."""
    starts = rng.integers(0, len(ids) - block_size - 1, batch_size)
    x = np.stack([ids[s : s + block_size] for s in starts])
    y = np.stack([ids[s + 1 : s + block_size + 1] for s in starts])
    return x, y


def build(package, vocab_size, dtype, seed=0):
    """The suite's GPT from scratch.models or torch_impl.models, torch's from scratch's weights."""
    import scratch.models

    model = scratch.models.GPT(
        vocab_size, **CONFIG, dtype=dtype, generator=np.random.default_rng(seed)
    )
    if package == "scratch":
        return model
    import torch

    import torch_impl.models
    from torch_impl import copy_weights

    torch_dtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
    return copy_weights(model, torch_impl.models.GPT(vocab_size, **CONFIG, dtype=torch_dtype))


def train(impl, data, steps, batch_size, dtype=np.float32, seed=0, eval_every=EVAL_EVERY):
    """Train the suite's GPT in one implementation; returns a record: 'losses' (every step, in
    nats), 'val' [(step, bits per character)], 'seconds' (training time at each evaluation),
    and the model. AdamW (lr 3e-3, weight decay on the matrices only), the same batches for every
    implementation."""
    import torch

    import scratch.nn
    import scratch.optim

    train_ids, val_ids, vocab, _ = data
    V = len(vocab)
    is_scratch = impl.startswith("scratch")
    model = build("scratch" if is_scratch else "torch", V, dtype, seed)
    if is_scratch:
        optimizer = scratch.optim.AdamW(model.param_groups(WEIGHT_DECAY), lr=LR)
        criterion = scratch.nn.CrossEntropyLoss()

        def step(x, y):
            optimizer.zero_grad()
            loss = criterion(model(x).reshape(-1, V), y.reshape(-1))
            model.backward(criterion.backward().reshape(x.shape + (V,)))
            optimizer.step()
            return float(loss)

        def evaluate(x, y):
            return float(criterion(model(x).reshape(-1, V), y.reshape(-1)))
    else:
        optimizer = torch.optim.AdamW(model.param_groups(WEIGHT_DECAY), lr=LR)

        def step(x, y):
            optimizer.zero_grad()
            logits = model(torch.from_numpy(x))
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, V), torch.from_numpy(y).reshape(-1)
            )
            loss.backward()
            optimizer.step()
            return loss.item()

        def evaluate(x, y):
            with torch.no_grad():
                logits = model(torch.from_numpy(x))
                return torch.nn.functional.cross_entropy(
                    logits.reshape(-1, V), torch.from_numpy(y).reshape(-1)
                ).item()

    rng, val_rng = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    val_batches = [
        batch(val_ids, CONFIG["block_size"], batch_size, val_rng) for _ in range(EVAL_BATCHES)
    ]
    record = {"losses": [], "val": [], "seconds": []}
    elapsed = 0.0
    for k in range(1, steps + 1):
        x, y = batch(train_ids, CONFIG["block_size"], batch_size, rng)
        started = time.perf_counter()
        record["losses"].append(step(x, y))
        elapsed += time.perf_counter() - started
        if k % eval_every == 0 or k == steps:
            bits = np.mean([evaluate(x, y) for x, y in val_batches]) / LN2
            record["val"].append((k, float(bits)))
            record["seconds"].append(elapsed)
    record["model"] = model
    return record


PROMPT = "def "  # what the samples start from


def sample(impl, model, vocab, prompt=PROMPT, n=200, seed=0):
    """n characters generated after `prompt`, temperature 1, top_k 10, the same NumPy seed for
    both twins."""
    idx = encode(prompt, vocab)[None]
    rng = np.random.default_rng(seed)
    if impl.startswith("scratch"):
        import scratch.models

        out = scratch.models.generate(model, idx, n, top_k=10, generator=rng)
    else:
        import torch

        import torch_impl.models

        out = torch_impl.models.generate(
            model, torch.from_numpy(idx), n, top_k=10, generator=rng
        ).numpy()
    return decode(out[0], vocab)


def run_suite(impls, quick, dtype=np.float32, steps=None):
    """{impl: record} for the CPU twins (the GPU ones join where present), each trained on the
    same batches from the same weights; one implementation after the other (their threads would
    otherwise contend), each record with its samples."""
    data = load()
    run = dict(QUICK if quick else FULL)
    if steps is not None:
        run["steps"] = steps
    impls = [i for i in impls if i in ("scratch-numpy", "torch-cpu")]
    print(
        f"text: {data[3]}; GPT {CONFIG}, {run['steps']} steps of {run['batch']} x "
        f"{CONFIG['block_size']} characters, for {', '.join(impls)}",
        flush=True,
    )
    results = {
        "info": data[3],
        "config": CONFIG,
        "run": run,
        "unigram_bits": unigram_bits(data[0], len(data[2])),
        "impls": {},
    }
    for impl in impls:
        record = train(impl, data, run["steps"], run["batch"], dtype)
        record["sample"] = sample(impl, record.pop("model"), data[2])
        results["impls"][impl] = record
    return results


def summary(results):
    rows = []
    tokens = results["run"]["batch"] * results["config"]["block_size"]
    for impl, r in results["impls"].items():
        reached = next((s for (k, b), s in zip(r["val"], r["seconds"]) if b <= TARGET_BITS), None)
        rows.append(
            {
                "impl": impl,
                "final_train_bits": float(np.mean(r["losses"][-10:]) / LN2),
                "final_val_bits": r["val"][-1][1],
                "tokens_per_s": tokens * len(r["losses"]) / r["seconds"][-1],
                "step_ms": 1e3 * r["seconds"][-1] / len(r["losses"]),
                "time_to_target_s": reached,
            }
        )
    return rows


def markdown(results):
    rows = summary(results)
    lines = [
        "## A GPT that learns Python's manual",
        "",
        f"{results['info']}. The GPT: {results['config']}, tied embeddings, pre-norm blocks with "
        f"the tanh GELU and GPT-2's scaled init of the residual projections; AdamW (lr {LR}, "
        f"weight decay {WEIGHT_DECAY} on the matrices only), {results['run']['steps']} steps of "
        f"{results['run']['batch']} windows, float32, the same batches and starting weights in "
        f"both twins. The unigram entropy of the text is {results['unigram_bits']:.2f} bits per "
        f"character: a model that learned no context could not go below it.",
        "",
        "| implementation | train bits/char (last 10 steps) | validation bits/char | tokens/s | "
        f"ms per step | time to {TARGET_BITS} bits/char |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        reached = (
            "not reached" if r["time_to_target_s"] is None else f"{r['time_to_target_s']:.1f} s"
        )
        lines.append(
            f"| {r['impl']} | {r['final_train_bits']:.3f} | {r['final_val_bits']:.3f} | "
            f"{r['tokens_per_s']:,.0f} | {r['step_ms']:.1f} | {reached} |"
        )
    impls = results["impls"]
    if {"scratch-numpy", "torch-cpu"} <= set(impls):
        s, t = impls["scratch-numpy"], impls["torch-cpu"]
        gap = float(np.max(np.abs(np.array(s["losses"]) - np.array(t["losses"])))) / LN2
        ratio = rows[0]["step_ms"] / rows[1]["step_ms"]
        same = s["sample"] == t["sample"]
        parted = next((i for i, (a, b) in enumerate(zip(s["sample"], t["sample"])) if a != b), None)
        lines += [
            "",
            f"- The training step, scratch / torch: **{ratio:.2f}x** (target <= 1.0x: "
            f"{'**met**' if ratio <= 1.0 else '**missed**'}).",
            f"- The largest gap between the twins' training losses: {gap:.2e} bits per character "
            "(float32: the twins round differently, and training carries the differences on).",
            "- The samples (temperature 1, top-k 10, the same NumPy seed): "
            + (
                "the same text."
                if same
                else f"they part at the {_ordinal(parted - len(PROMPT) + 1)} character they "
                f"generate after the prompt {PROMPT!r}, where float32 rounding made the twins' "
                "probabilities differ enough to cross a sampling threshold."
            ),
            "",
            "scratch:",
            "",
            "```",
            s["sample"],
            "```",
            "",
            "torch:",
            "",
            "```",
            t["sample"],
            "```",
        ]
    return "\n".join(lines) + "\n"


def write_json(results, out):
    path = out / "text.json"
    path.write_text(json.dumps({**results, "summary": summary(results)}, indent=1))
    return path


def figure(results, out):
    """text.png: training and validation bits per character against steps and against training
    time, the twins overlaid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    styles = {"scratch-numpy": ("C0", "-"), "torch-cpu": ("C1", "--")}
    for impl, r in results["impls"].items():
        color, style = styles.get(impl, ("C2", ":"))
        steps = np.arange(1, len(r["losses"]) + 1)
        axes[0].plot(
            steps, np.array(r["losses"]) / LN2, style, color=color, alpha=0.5, label=f"{impl} train"
        )
        k, bits = zip(*r["val"], strict=True)
        axes[0].plot(k, bits, "o" + style, color=color, label=f"{impl} validation")
        axes[1].plot(r["seconds"], bits, "o" + style, color=color, label=f"{impl} validation")
    for ax, xlabel in zip(axes, ("step", "training time (s)"), strict=True):
        ax.axhline(results["unigram_bits"], color="grey", lw=1, ls=":")
        ax.text(  # at the right, where the losses are long below it (at the left they cross it)
            ax.get_xlim()[1],
            results["unigram_bits"],
            "unigram entropy ",
            ha="right",
            va="bottom",
            fontsize=8,
            color="grey",
        )
        ax.set_xlabel(xlabel)
        ax.set_ylabel("bits per character")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("loss against steps (the twins overlap where they agree)")
    axes[1].set_title("validation loss against training time")
    fig.tight_layout()
    path = out / "text.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _ordinal(n):
    """1 -> '1st', 2 -> '2nd', 11 -> '11th': a position counted from 1, as a reader counts."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
