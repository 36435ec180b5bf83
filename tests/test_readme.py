"""The README's Python examples run, so they cannot rot.

Every fenced ``python`` block of ``README.md`` is a doctest (``>>>`` lines and the output
they print), run from the project root as a reader of the README would run it.
"""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def blocks() -> list[tuple[int, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(text.count("\n", 0, match.start()) + 2, match.group(1)) for match in BLOCK.finditer(text)]


def test_the_readme_has_python_examples() -> None:
    assert blocks(), "README.md has no ```python block"
    assert all(">>> " in code for _, code in blocks()), "every ```python block is written as a doctest"


@pytest.mark.parametrize("line,code", blocks(), ids=lambda value: f"line {value}" if isinstance(value, int) else "")
def test_readme_example_runs(line: int, code: str) -> None:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(code, {}, f"README.md, block at line {line}", "README.md", line - 1)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    output: list[str] = []
    before = os.getcwd()
    os.chdir(ROOT)
    try:
        runner.run(test, out=output.append)
    finally:
        os.chdir(before)
    assert runner.failures == 0 and test.examples, "".join(output)
