"""The study path: every chapter runs as a script and holds its claims; `make notebooks` works.

Each chapter asserts the agreements it shows (notebooks.agree), so running it is its test. They
run in a subprocess each (a fresh interpreter, as a learner runs them, with matplotlib's Agg
backend: no display, no Jupyter).
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import notebooks
from notebooks.__main__ import chapters, execute

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = chapters()
NEEDS = [m for m in ("matplotlib", "sklearn") if importlib.util.find_spec(m) is None]


def test_the_chapters_are_the_seven_of_the_study_path():
    assert [c.name for c in CHAPTERS] == [
        "01_gradient_descent.py",
        "02_perceptron.py",
        "03_two_layer.py",
        "04_convolution.py",
        "05_recurrent.py",
        "06_normalization.py",
        "07_attention_gpt.py",
    ]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_the_chapter_is_a_percent_format_notebook(chapter):
    """A title cell first, prose and code cells after: what jupytext, VS Code and PyCharm read."""
    lines = chapter.read_text().splitlines()
    assert lines[0] == "# %% [markdown]"
    assert lines[1].startswith("# # Chapter ")
    code_cells = [line for line in lines if line == "# %%"]
    prose_cells = [line for line in lines if line == "# %% [markdown]"]
    assert len(code_cells) >= 3 and len(prose_cells) >= 3


@pytest.mark.skipif(bool(NEEDS), reason=f"the chapters draw and read digits: {NEEDS} missing")
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda c: c.stem)
def test_the_chapter_runs_as_a_script_and_its_claims_hold(chapter):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, str(chapter)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    agreements = [line for line in result.stdout.splitlines() if "largest difference" in line]
    assert agreements and all(line.endswith(": agree") for line in agreements)


def test_agree_fails_when_the_twins_differ_beyond_rounding():
    assert notebooks.agree("equal", np.ones(3), np.ones(3)) == 0
    notebooks.agree("float32 rounding", np.float32([1.0]), np.float32([1.0 + 1e-7]))
    with pytest.raises(AssertionError, match="differ by 1.000e-06"):
        notebooks.agree("a float64 gap of 1e-6", np.array([1.0]), np.array([1.0 + 1e-6]))
    with pytest.raises(AssertionError, match="shape"):
        notebooks.agree("shapes", np.ones(3), np.ones(4))
    with pytest.raises(AssertionError):
        notebooks.agree("integers must be equal", np.array([1, 2]), np.array([1, 3]))


JUPYTER = [m for m in ("jupytext", "nbclient", "ipykernel") if importlib.util.find_spec(m) is None]


@pytest.mark.skipif(bool(JUPYTER), reason=f"the notebooks extra is not installed: {JUPYTER}")
@pytest.mark.skipif(bool(NEEDS), reason=f"the chapters draw: {NEEDS} missing")
def test_make_notebooks_writes_an_executed_notebook_with_its_figures(tmp_path):
    """What `make notebooks` does, for the quickest chapter: a kernel runs it, the .ipynb keeps
    every cell's output, the figures as PNGs."""
    path = execute(ROOT / "notebooks" / "02_perceptron.py", tmp_path)
    notebook = json.loads(path.read_text())
    outputs = [o for cell in notebook["cells"] for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert any("agree" in "".join(o.get("text", "")) for o in outputs)


@pytest.mark.skipif(bool(JUPYTER), reason=f"the notebooks extra is not installed: {JUPYTER}")
def test_a_failing_chapter_stops_and_its_notebook_shows_where(tmp_path):
    from nbclient.exceptions import CellExecutionError

    chapter = tmp_path / "99_broken.py"
    chapter.write_text(
        "# %% [markdown]\n# # Chapter 99\n\n# %%\nx = 1\n\n# %%\nassert x == 2, 'x is not 2'\n"
    )
    with pytest.raises(CellExecutionError, match="x is not 2"):
        execute(chapter, tmp_path / "out")
    notebook = json.loads((tmp_path / "out" / "99_broken.ipynb").read_text())
    errors = [
        o for c in notebook["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert errors and errors[0]["evalue"] == "x is not 2"


def test_the_readme_study_path_lists_every_chapter():
    readme = (ROOT / "README.md").read_text()
    study = readme[readme.index("## Study path") :]
    for chapter in CHAPTERS:
        assert f"notebooks/{chapter.name}" in study, chapter.name


def test_pin_threads_pins_torch_and_numpys_blas():
    import subprocess
    import sys

    script = (
        "from notebooks import pin_threads\nimport torch\n"
        "from threadpoolctl import threadpool_info\n"
        "n = pin_threads(1)\n"
        "blas = {i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}\n"
        "print(n, torch.get_num_threads(), blas)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.stdout.split("\n")[0] == "1 1 {1}", run.stdout + run.stderr
