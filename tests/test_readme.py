"""The README's examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], flags=re.S)


def test_use_from_python_example_runs_as_written(tmp_path):
    """The headline call: ms.tune_tir(..., strategy="heron-cga") on this CPU, checked against numpy."""
    (example,) = _python_blocks("Use from Python")
    assert 'strategy="heron-cga"' in example
    done = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"PASS \d+\.\d{4} ms", last), done.stdout[-2000:]
