"""The approvals page's diff: real ``git diff`` output, parsed, highlighted and rendered.

Each diff comes from a real git repository in ``tmp_path``, and the HTML from
the dashboard's own template under autoescape: what a manager committed (a
line of script, a file named like markup) must come out as text.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import jinja2
import pytest

from hive_c0re.dashboard.app import TEMPLATES
from hive_c0re.dashboard.views import diff

SCRIPT_LINE = "<script>alert(1)</script>"
IMG_NAME = "<img src=x onerror=alert(1)>.toml"


def git(repo: Path, *args: str) -> str:
    env = {"PATH": os.environ["PATH"], "GIT_CONFIG_GLOBAL": "/dev/null",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo)}
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo),
                           *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout


def commit(repo: Path, files: dict[str, str | bytes | None]) -> str:
    """Write (or, for None, remove) ``files`` and commit; the new sha."""
    for name, content in files.items():
        if content is None:
            git(repo, "rm", "-q", "--", name)
            continue
        path = repo / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        git(repo, "add", "--", name)
    git(repo, "commit", "-q", "-m", "change")
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    return tmp_path


def render(parsed: diff.Diff) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("_diff.html").render(diff=parsed)


def test_a_modified_toml_is_highlighted_with_line_numbers(repo: Path) -> None:
    base = commit(repo, {"agent.toml": 'model = "haiku"\nname = "carol"\n'})
    sha = commit(repo, {"agent.toml": 'model = "sonnet"\nname = "carol"\n'})
    parsed = diff.parse(git(repo, "diff", "--no-color", base, sha))
    (file,) = parsed.files
    assert (file.path, file.change, file.added, file.removed) == ("agent.toml", "modified", 1, 1)
    (hunk,) = file.hunks
    assert hunk.header.startswith("@@ -1,2 +1,2 @@")
    kinds = [(line.kind, line.old, line.new) for line in hunk.lines]
    assert kinds == [("removed", 1, None), ("added", None, 1), ("context", 2, 2)]
    # Pygments' TOML lexer marked the string as a string token (class "s2" or "s").
    assert 'class="s' in str(hunk.lines[1].html)
    assert "sonnet" in str(hunk.lines[1].html)


def test_a_script_line_and_a_markup_file_name_render_as_text(repo: Path) -> None:
    base = commit(repo, {"agent.toml": "a = 1\n"})
    sha = commit(repo, {"agent.toml": f"a = 1\n# {SCRIPT_LINE}\n", IMG_NAME: "x = 1\n",
                        "notes.md": f"[x](javascript:alert(1)) {SCRIPT_LINE}\n"})
    html = render(diff.parse(git(repo, "diff", "--no-color", base, sha)))
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html  # the line, as Pygments escaped it
    assert "&lt;img src=x onerror=alert(1)&gt;.toml" in html  # the name, as Jinja escaped it
    assert 'href="javascript' not in html


def test_added_removed_renamed_and_binary_files_are_named_for_what_happened(repo: Path) -> None:
    base = commit(repo, {"old.toml": "k = 1\n" * 20, "gone.txt": "bye\n"})
    git(repo, "mv", "old.toml", "new.toml")
    sha = commit(repo, {"gone.txt": None, "fresh.py": "print('hi')\n",
                        "blob.bin": bytes(range(256))})
    parsed = diff.parse(git(repo, "diff", "--no-color", "-M", base, sha))
    changes = {file.path: (file.change, file.old_path) for file in parsed.files}
    assert changes == {"new.toml": ("renamed", "old.toml"), "gone.txt": ("removed", None),
                       "fresh.py": ("added", None), "blob.bin": ("binary", None)}
    html = render(parsed)
    assert "A binary file: not shown." in html


def test_a_diff_against_the_empty_tree_shows_every_file_added(repo: Path) -> None:
    sha = commit(repo, {"agent.toml": "a = 1\nb = 2\n"})
    empty = git(repo, "hash-object", "-t", "tree", "/dev/null").strip()
    parsed = diff.parse(git(repo, "diff", "--no-color", empty, sha))
    (file,) = parsed.files
    assert (file.change, file.added) == ("added", 2)


def test_a_long_diff_is_cut_and_says_so(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = commit(repo, {"a.txt": "x\n"})
    sha = commit(repo, {"a.txt": "".join(f"line {n}\n" for n in range(50)), "b.txt": "b\n"})
    monkeypatch.setattr(diff, "MAX_LINES", 10)
    parsed = diff.parse(git(repo, "diff", "--no-color", base, sha))
    assert parsed.truncated
    assert sum(len(hunk.lines) for file in parsed.files for hunk in file.hunks) == 10
    assert "The diff goes on" in render(parsed)


def test_a_diff_takes_only_the_lines_its_page_has_left(repo: Path) -> None:
    base = commit(repo, {"a.txt": "x\n"})
    sha = commit(repo, {"a.txt": "".join(f"line {n}\n" for n in range(50))})
    text = git(repo, "diff", "--no-color", base, sha)
    whole, part = diff.parse(text), diff.parse(text, 7)
    assert not whole.truncated and whole.lines == 51
    assert part.truncated and part.lines == 7
    assert diff.parse(text, diff.MAX_LINES * 2).lines == 51


def test_text_that_is_no_diff_is_an_error_not_a_crash() -> None:
    parsed = diff.parse("--- a/x\n+++ b/x\n@@ -1,5 +1,5 @@\n-only one line\n")
    assert parsed.error is not None and "could not be read" in parsed.error
    assert parsed.files == ()


def test_the_style_sheet_is_scoped_to_the_diff() -> None:
    sheet = diff.style_sheet()
    assert ".hl .s" in sheet or ".hl .s2" in sheet
    assert "<" not in sheet
