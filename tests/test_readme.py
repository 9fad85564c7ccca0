"""The README's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], flags=re.S)


def test_use_from_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    """The headline call: ms.tune_tir(..., strategy="heron-cga") on this CPU, checked against numpy.

    It runs in this process, in a fresh namespace and directory (a new process would add only
    its start; what a bare ``import tvm_heron`` registers is test_strategy_protocol's and
    test_layering's subject)."""
    (example,) = _python_blocks("Use from Python")
    assert 'strategy="heron-cga"' in example
    from tvm_heron.tuning import foreign_log_handlers_detached  # pytest's log capture

    monkeypatch.chdir(tmp_path)
    with foreign_log_handlers_detached():
        exec(compile(example, f"{README}:Use from Python", "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"PASS \d+\.\d{4} ms", last), out[-2000:]
