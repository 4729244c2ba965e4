"""The simulator core stays light: no SciPy, matplotlib or adapter imports when it runs."""

from __future__ import annotations

import subprocess
import sys


def test_simulating_imports_neither_scipy_nor_matplotlib_nor_adapters() -> None:
    code = (
        "import sys\n"
        "from ldn_derm.pkpd import DoseSchedule, simulate\n"
        "simulate(DoseSchedule.single(4.5), subjects=50, hours=24)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('scipy', 'matplotlib')\n"
        "       or m.startswith(('ldn_derm.cli', 'ldn_derm.web', 'ldn_derm.reports'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
