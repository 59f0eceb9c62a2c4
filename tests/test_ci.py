"""`.ci/run` runs the README's install and test lines verbatim, in a fresh virtual environment."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Install and test", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README's 'Install and test' section has no bash block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_ci_runs_the_readme_lines_in_a_fresh_venv() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    activate = script.index("source .venv/bin/activate")
    assert "python3 -m venv --clear .venv" in script[:activate]
    steps = [line.strip() for line in script[activate + 1 :] if line.strip() and not line.startswith("#")]
    assert steps == _readme_lines()
    assert steps[-1] == "pytest"
