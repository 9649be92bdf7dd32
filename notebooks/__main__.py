"""Execute the chapters into notebooks with their outputs: `python -m notebooks [CHAPTER ...]`.

Each chapter (a jupytext percent-format script in this folder) is read with jupytext, executed
cell by cell in a fresh Jupyter kernel by nbclient, from the repository's root, and written as an
.ipynb with its printed output and figures into notebooks/executed/ (git ignores it). Needs the
`notebooks` extra: `pip install -e '.[notebooks]'` (`make notebooks` installs it).
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "executed"


def chapters():
    """The chapter scripts, in order: the files whose names start with a number."""
    return sorted(p for p in HERE.glob("[0-9]*.py"))


def execute(chapter, out=OUT, timeout=600):
    """Run one chapter in a fresh kernel; returns the path of the executed .ipynb. A cell that
    raises stops the chapter; the notebook is still written, with the error in that cell's output,
    and the error is raised."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    notebook = jupytext.read(chapter)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    # the kernel talks over local sockets (ipc), not TCP, in a private folder
    ipc = Path(tempfile.mkdtemp(prefix="chapter-kernel-"))
    ipc_config = Config({"KernelManager": {"transport": "ipc", "ip": str(ipc / "kernel")}})
    client = NotebookClient(
        notebook,
        config=ipc_config,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(HERE.parent)}},
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / (chapter.stem + ".ipynb")
    try:
        client.execute()
    except CellExecutionError:
        nbformat.write(notebook, path)
        raise
    finally:
        shutil.rmtree(ipc, ignore_errors=True)
    nbformat.write(notebook, path)
    return path


def select(fragments):
    """The chapters named, in order: all for none; each fragment (a number, a word of the name, a
    file name) must name exactly one chapter, so that "py" or "0" cannot select them all."""
    every = chapters()
    if not fragments:
        return every
    selected = []
    for fragment in fragments:
        matches = [c for c in every if fragment in c.name]
        if len(matches) != 1:
            found = "no chapter" if not matches else f"{len(matches)} chapters"
            sys.exit(
                f"{fragment!r} names {found}: give one chapter's number or a word of its name; "
                f"the chapters: {', '.join(c.name for c in every)}"
            )
        if matches[0] not in selected:
            selected.append(matches[0])
    return [c for c in every if c in selected]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m notebooks", description=__doc__.split("\n")[0])
    parser.add_argument(
        "chapters",
        nargs="*",
        help="chapter files or name fragments, e.g. 01 or attention (default: all)",
    )
    parser.add_argument(
        "--out", type=Path, default=OUT, help="where to write (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    missing = [m for m in ("jupytext", "nbclient", "ipykernel") if _missing(m)]
    if missing:
        sys.exit(
            f"{', '.join(missing)} not installed: pip install -e '.[notebooks]' "
            "(make notebooks does it), or run a chapter as a script: python notebooks/<chapter>.py"
        )
    selected = select(args.chapters)
    from benchmarks.environment import output_folder

    output_folder(args.out)  # before the first chapter runs
    failed = []
    for chapter in selected:
        started = time.perf_counter()
        print(f"{chapter.name}: running in a fresh kernel ...", flush=True)
        try:
            path = execute(chapter, args.out)
        except Exception as error:  # noqa: BLE001  (reported, then the next chapter runs)
            failed.append(chapter.name)
            print(f"{chapter.name}: FAILED after {time.perf_counter() - started:.1f} s\n{error}")
            continue
        print(f"{chapter.name}: done in {time.perf_counter() - started:.1f} s  ->  {path}")
    if failed:
        sys.exit(
            f"{len(failed)} chapter(s) failed: {', '.join(failed)} (their notebooks show where)"
        )
    print(f"executed notebooks with their outputs: {args.out}/ (open them in Jupyter or VS Code)")


def _missing(module):
    import importlib.util

    return importlib.util.find_spec(module) is None


if __name__ == "__main__":
    main()
