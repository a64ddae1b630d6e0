"""The documents: the README stays short, every topic has its file in docs/, every relative link
resolves (file and #anchor, with GitHub's heading slugs), and nothing cites a design file that
lives outside the repository. Pure Python: no framework is imported."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 250
TOPICS = ("design", "benchmarks", "results", "reliability", "distributed", "pretrained")
# The design file of the team's machine, outside the checkout (spelled in two parts, so that this
# file does not cite it itself).
OUTSIDE_DESIGN = "shared/" + "DESIGN.md"

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks and indented code blocks."""
    lines, fenced, previous_blank = [], False, True
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        indented_code = previous_blank and line.startswith("    ") and not line.lstrip().startswith(("-", "*", "|"))
        if not fenced and not indented_code:
            lines.append(line)
        previous_blank = not line.strip() or (indented_code and previous_blank)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text without Markdown, lower case, punctuation removed
    (letters, digits, '_', '-' and spaces stay), spaces turned into hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found, seen = set(), {}
    for line in prose_lines(path.read_text(encoding="utf-8")):
        if match := HEADING.match(line):
            base = slug(match.group(2))
            count = seen.get(base, 0)
            found.add(base if count == 0 else f"{base}-{count}")
            seen[base] = count + 1
    return found


def relative_links(path: Path) -> list[str]:
    links = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        line = re.sub(r"`[^`]*`", "", line)  # code spans are not links
        links += [target for target in LINK.findall(line)
                  if not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)]  # http:, mailto:, ...
    return links


def test_slug_follows_github():
    assert slug("A run that dies: `--resume`") == "a-run-that-dies---resume"
    assert slug("Figures on the team's machines") == "figures-on-the-teams-machines"
    assert slug("One epoch of every model, both backends (`cifar` variants, from scratch)") == \
        "one-epoch-of-every-model-both-backends-cifar-variants-from-scratch"


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_has_its_document(topic):
    assert (ROOT / "docs" / f"{topic}.md").is_file(), f"docs/{topic}.md is missing"


@pytest.mark.parametrize("doc", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc):
    broken = []
    for target in relative_links(doc):
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading with that anchor in {dest.relative_to(ROOT)}")
    assert not broken, f"{doc.relative_to(ROOT)}: " + "; ".join(broken)


def test_nothing_cites_the_design_file_outside_the_repository():
    try:
        tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True,
                                 text=True).stdout.split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    citing = []
    for name in filter(None, tracked):
        path = ROOT / name
        if name.startswith("docs/runs/") or not path.is_file():
            continue
        if OUTSIDE_DESIGN in path.read_text(encoding="utf-8", errors="ignore"):
            citing.append(name)
    assert not citing, f"cite docs/design.md instead of {OUTSIDE_DESIGN}: {', '.join(citing)}"
