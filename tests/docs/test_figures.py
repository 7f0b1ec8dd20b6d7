"""Every figure in the README and the model cards comes from a committed results file that its text links to.

A figure is a measured number in the prose or tables: a ratio (``2.47x``), a percentage with decimals (``3.2 %``) or
a number with at least two decimals (``0.955``), with its sign where it has one (``-0.0013``, a difference).
Settings are written as code (in backticks) and are not figures.
Each paragraph (or table row) with figures must link to results files in the repository (``benchmarks/results/``,
``docs/real_data/``, ``docs/studies/``, a bundle's ``results/``), and each figure must be found in one of them, as
written or rounded from a longer value. A table row without links takes the links of its table and of the paragraph
just above it; a paragraph without links (a list after its introduction) takes those of the paragraph above it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from doc_blocks import REPO

DOCS = [REPO / "README.md", *sorted(REPO.glob("bundles/*/docs/README.md"))]
_FIGURE = re.compile(r"(?<![\w.])([-+]?\d+\.\d+)\s*(?:x\b(?!\s*\d)|%)|(?<![\w.])([-+]?\d+\.\d{2,})(?!\w|\.\d)")
_NUMBER = re.compile(r"-?\d+\.\d+|-?\d+")
_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def _plain(text: str) -> str:
    """Text without code blocks, inline code and link targets (kept line for line)."""
    text = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return re.sub(r"\]\([^)]*\)", "]", text)


def units(doc: Path) -> list[tuple[int, list[str], list[Path]]]:
    """``(line, figures, linked files)`` for each paragraph or table row of ``doc`` that has figures."""
    raw = doc.read_text(encoding="utf-8").split("\n")
    plain = _plain("\n".join(raw)).split("\n")
    out, para_start, context_links = [], 0, []

    def links(lines: list[str]) -> list[Path]:
        return [(doc.parent / t).resolve() for line in lines for t in _LINK.findall(line) if "://" not in t]

    k = 0
    while k < len(raw):
        if not raw[k].strip():
            k += 1
            continue
        para_start = k
        while k < len(raw) and raw[k].strip():
            k += 1
        lines = range(para_start, k)
        table = [i for i in lines if raw[i].lstrip().startswith("|")]
        shared = links([raw[i] for i in lines]) + context_links
        for i in table:
            figures = [m.group(1) or m.group(2) for m in _FIGURE.finditer(plain[i])]
            if figures:
                out.append((i + 1, figures, links([raw[i]]) or shared))
        prose = [i for i in lines if i not in table]
        figures = [m.group(1) or m.group(2) for i in prose for m in _FIGURE.finditer(plain[i])]
        own = links([raw[i] for i in prose])
        if figures:
            out.append((para_start + 1, figures, own or context_links))
        context_links = own
    return out


#: Where results files live: what the benchmark, real-data and study scripts write.
_RESULTS_DIRS = ("benchmarks/results/", "docs/real_data/", "docs/studies/")


def _is_results_file(path: Path) -> bool:
    """A committed results file (not a page written by hand, such as ``docs/real_data.md``)."""
    if REPO not in path.parents or path.suffix not in (".md", ".json", ".csv"):
        return False
    relative = path.relative_to(REPO).as_posix()
    return relative.startswith(_RESULTS_DIRS) or (relative.startswith("bundles/") and "/results/" in relative)


def _numbers(path: Path) -> list[float]:
    return [float(n) for n in _NUMBER.findall(path.read_text(encoding="utf-8", errors="replace"))]


def found(figure: str, numbers: list[float]) -> bool:
    """Whether ``figure`` is one of ``numbers`` as written or rounded to its decimals."""
    decimals = len(figure.partition(".")[2])
    value = float(figure)
    return any(abs(n - value) <= 0.5 * 10**-decimals + 1e-9 for n in numbers)


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(REPO)) for d in DOCS])
def test_every_figure_is_in_a_linked_results_file(doc: Path) -> None:
    problems = []
    for line, figures, files in units(doc):
        where = f"{doc.relative_to(REPO)}:{line}"
        results = [f for f in files if f.is_file() and _is_results_file(f)]
        missing = [f for f in files if REPO in f.parents and not f.exists()]
        problems += [f"{where}: links to {f.relative_to(REPO)}, which does not exist" for f in missing]
        if not results:
            problems.append(f"{where}: figures {figures} with no linked results file")
            continue
        numbers = [n for f in results for n in _numbers(f)]
        problems += [f"{where}: {fig} is in none of {[str(f.relative_to(REPO)) for f in results]}"
                     for fig in figures if not found(fig, numbers)]
    assert not problems, "\n".join(problems)


def test_the_figure_check_reads_rows_links_and_rounding(tmp_path: Path) -> None:
    results = tmp_path / "results.md"
    results.write_text("| a | 0.95531 | 2.47 |\n")
    doc = tmp_path / "doc.md"
    doc.write_text("Measured ([results](results.md)): Dice 0.955, speed 2.47x, at `lr 0.003` and 1.5 x 1.5 mm.\n\n"
                   "No link here: 0.931.\n\n# Next\n\nNor here: 0.932, [-0.0044, +0.0017], 0.7-1.25.\n")
    first, second, third = units(doc)
    assert first == (1, ["0.955", "2.47"], [results.resolve()])
    assert second == (3, ["0.931"], [results.resolve()])  # the paragraph above's links
    assert third == (7, ["0.932", "-0.0044", "+0.0017", "1.25"], [])  # signs kept; a range's dash is no sign
    assert found("0.955", [0.95531])
    assert not found("0.956", [0.95531])
    assert found("-0.0044", [-0.00437])
    assert not found("0.0044", [-0.00437])
