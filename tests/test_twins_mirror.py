"""The project's two structural promises: scratch/ runs on NumPy alone, and each scratch file with a
torch twin defines the same public names in the same order (so a diff shows only the math)."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
TWINS = sorted(p.name for p in (ROOT / "torch_impl").glob("*.py") if p.name != "__init__.py")


def test_every_torch_impl_file_has_a_scratch_twin():
    assert TWINS, "torch_impl/ has no twin files"
    for name in TWINS:
        assert (ROOT / "scratch" / name).exists(), f"torch_impl/{name} has no scratch/{name}"


def public_names(path):
    """Top-level public classes, functions and constants, in file order."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [
                t.id for t in node.targets if isinstance(t, ast.Name) and not t.id.startswith("_")
            ]
    return names


def test_twins_define_the_same_public_names_in_the_same_order():
    for name in TWINS:
        scratch_names = public_names(ROOT / "scratch" / name)
        torch_names = public_names(ROOT / "torch_impl" / name)
        # the scratch side may define its own exception types (the torch side imports them from it)
        scratch_names = [n for n in scratch_names if not n.startswith("Divergence")]
        assert scratch_names == torch_names, (
            f"{name}: scratch {scratch_names} != torch {torch_names}"
        )


def test_scratch_imports_and_runs_with_torch_unavailable():
    """Import every scratch module with torch made unimportable, then train a tiny network."""
    modules = sorted(
        "scratch."
        + str(p.relative_to(ROOT / "scratch").with_suffix(""))
        .replace("/", ".")
        .removesuffix(".__init__")
        for p in (ROOT / "scratch").rglob("*.py")
    )
    code = (
        "import sys; sys.modules['torch'] = None\n"  # any `import torch` now raises ImportError
        f"import importlib; [importlib.import_module(m) for m in {modules!r}]\n"
        "import numpy as np, scratch.two_layer as s2, scratch.nn as nn, scratch.optim as optim\n"
        "m = s2.SimpleNN(2, 4, 1, dtype=np.float64, generator=np.random.default_rng(0))\n"
        "X = np.array([[0., 0], [0, 1], [1, 0], [1, 1]]); Y = np.array([[0.], [1], [1], [0]])\n"
        "losses = s2.train(m, X, Y, nn.BCEWithLogitsLoss(), optim.Adam(m.parameters(), lr=0.05), "
        "epochs=50, batch_size=4)\n"
        "assert losses[-1] < losses[0], losses\n"
        "print('ok', len(losses))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok 50"


# --- twin diffs that show only the math
#
# For each pair, the lines `diff` shows outside the bodies that *are* the difference: the backward
# scratch writes by hand (autograd's, in the torch twin), the gradient written against autograd,
# and each twin's own array type at the edge (NumPy/CuPy arrays or tensors; the torch twin also
# reads .pt files). What is left is the import lines, the sentence that names the twin and the
# steps that differ (a hand-written update against an optimizer's). The budget is each pair's
# count when it was set (README: "twin diffs"), so that a change which makes them drift apart
# fails here and says where.
THE_DIFFERENCE = {
    "gradient_descent.py": {"gradient", "_start"},
    "perceptron.py": {"Perceptron.backward", "_host", "_on_model", "_finite"},
    "two_layer.py": {
        "SimpleNN.backward",
        "SimpleNN._as_matrices",
        "save_weights",
        "load_weights",
        "_check_data",
        "_on_device",
    },
    "models.py": {
        "MLP.backward",
        "ConvNet.backward",
        "RowLSTM.backward",
        "LayerNormMLP.backward",
        "GPT.backward",
        "_host",
    },
}
# models.py 56 -> 57: generate's generator is now checked in the shared generation_settings, so
# the torch twin no longer imports NumPy at all, and scratch's `import numpy` has no partner
DIFF_BUDGET = {"gradient_descent.py": 48, "perceptron.py": 29, "two_layer.py": 22, "models.py": 57}


def without_the_difference(path, names):
    """The file's lines, less those of the functions and methods named (Class.method or
    function)."""
    import ast

    lines = path.read_text().splitlines()
    drop = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and f"{node.name}.{item.name}" in names:
                    drop.update(range(item.lineno - 1 - len(item.decorator_list), item.end_lineno))
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            drop.update(range(node.lineno - 1, node.end_lineno))
    for i in sorted(drop):  # and the blank line that led into each dropped definition
        if i - 1 not in drop and i - 1 >= 0 and not lines[i - 1].strip():
            drop.add(i - 1)
    return [line for i, line in enumerate(lines) if i not in drop]


def diff_size(name):
    import difflib

    s = without_the_difference(ROOT / "scratch" / name, THE_DIFFERENCE[name])
    t = without_the_difference(ROOT / "torch_impl" / name, THE_DIFFERENCE[name])
    changed = [
        line
        for line in difflib.unified_diff(s, t, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---")) and line[1:].strip()
    ]
    return len(changed), changed


def test_twin_diffs_show_only_the_math():
    assert set(THE_DIFFERENCE) == set(TWINS)
    for name in TWINS:
        size, changed = diff_size(name)
        assert size <= DIFF_BUDGET[name], (
            f"{name}: {size} lines differ outside the math "
            f"(budget {DIFF_BUDGET[name]}):\n" + "\n".join(changed)
        )
