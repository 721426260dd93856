"""The README and docs/ point at things that exist: links, images, anchors and the repository
paths they name in inline code. A renamed file or heading fails here instead of in a reader's
browser. The README stays short (the long material lives in docs/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 180

FENCE = re.compile(r"^( {4,}|\t|```)")  # indented or fenced code: not prose
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
# top-level folders of the repository: an inline code span starting with one names a repo path
TOP = ("cryptousd/", "notebooks/", "tools/", "tests/", "benchmarks/", "models/", "docs/",
       "data/", "runs/", ".ci/", "deploy/")  # fmt: skip
TOP_FILES = {"run.py", "pyproject.toml", "environment.yml", "jupytext.toml", "Makefile", "LICENSE"}
# a module or notebook named by its file name alone (`jit_lstm.py`): it exists somewhere
BARE_FILE = re.compile(r"[\w.-]+\.(?:py|ipynb)")
# paths that runs create (git-ignored): named in the docs, absent from a clone
MADE_AT_RUN_TIME = ("data/store", "data/archive", "data/raw", "runs/", ".venv/", "models/my-")


def prose_lines(page: Path) -> list[str]:
    """The page's lines outside code blocks (indented or fenced)."""
    out, fenced = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced or FENCE.match(line):
            continue
        out.append(line)
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(m[1]) for line in prose_lines(page) if (m := re.match(r"#{1,6} (.+)", line))}


def prose(page: Path) -> str:
    """The prose as one line, so that a link or a code span broken across lines is read whole."""
    return " ".join(prose_lines(page))


def links(page: Path) -> list[str]:
    return [m[1] for m in LINK.finditer(prose(page))]


def repo_paths(page: Path) -> list[str]:
    """Inline code spans that name a file or folder of the repository."""
    found = []
    for span in CODE_SPAN.findall(prose(page)):
        span = span.strip()
        if re.search(r"[\s<>*{}$]|\.\.\.", span) or "NN-" in span:
            continue  # a command, a pattern or a placeholder, not one path
        if span.startswith(TOP) or span in TOP_FILES or BARE_FILE.fullmatch(span):
            found.append(span)
    return found


def exists(path: str) -> bool:
    if (ROOT / path).exists() or path.startswith(MADE_AT_RUN_TIME):
        return True
    if "/" not in path:  # a bare file name: anywhere in the repository's own folders
        return any(p.name == path for top in TOP for p in (ROOT / top).rglob(path))
    return False


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_and_image_points_to_a_file_or_heading_that_exists(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not checked offline
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(
                f"{target}: no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}"
            )
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert not broken, f"{page_id(page)}: " + "; ".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_repository_path_named_in_inline_code_exists(page):
    missing = [p for p in repo_paths(page) if not exists(p)]
    assert not missing, f"{page_id(page)} names paths that do not exist: {missing}"


def test_the_readme_stays_short():
    n = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines; move the long parts to docs/"


def test_the_checks_see_what_they_check():
    """The helpers find links, anchors and paths (so an empty scan cannot pass the tests above)."""
    readme = ROOT / "README.md"
    assert "docs/dashboard.png" in links(readme)
    assert any(t.startswith("docs/") and t.endswith(".md") for t in links(readme))
    assert slug("Speed and memory (2 cores, no GPU)") == "speed-and-memory-2-cores-no-gpu"
    assert sum(len(repo_paths(p)) for p in PAGES) >= 20
