"""The repository stands on its own: the README links only inside it, every "notes §N" in the code
points at a section of docs/notes.md, and the README's first look runs and prints what it says."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_readme_links_only_to_files_in_the_repository():
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if target.startswith("http"):
            continue
        assert not target.startswith(".."), f"README links outside the repository: {target}"
        assert (ROOT / target).exists(), f"README links to a missing file: {target}"


def test_every_notes_section_the_code_cites_exists():
    sections = set(re.findall(r"^## §(\d+) ", (ROOT / "docs" / "notes.md").read_text(), flags=re.M))
    cited = set()
    for path in (
        list(ROOT.glob("scratch/**/*.py"))
        + list(ROOT.glob("torch_impl/**/*.py"))
        + list(ROOT.glob("benchmarks/*.py"))
    ):
        cited |= set(re.findall(r"notes\.md §(\d+)", path.read_text()))
    assert cited and cited <= sections, (
        f"cited {sorted(cited)}, docs/notes.md has {sorted(sections)}"
    )


def test_the_license_the_package_declares_is_there():
    assert "license = MIT" in (ROOT / "setup.cfg").read_text()
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_the_first_look_prints_what_its_comments_say():
    """Run the README's first-look snippet: each print's comment starts with what it prints."""
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"## A first look.*?```python\n(.*?)```", readme, flags=re.S).group(1)
    promised = re.findall(r"^print\(.*#\s*(\S+)", snippet, flags=re.M)
    run = subprocess.run(
        [sys.executable, "-c", snippet], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == promised and len(promised) == 3
