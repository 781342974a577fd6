"""examples/ stay runnable: each script runs to completion with real output."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_runs():
    out = subprocess.run([sys.executable, str(ROOT / 'examples' / 'quickstart.py')],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "{'topic': 'billing', 'priority': 'P1', 'ticket': 'My invoice is wrong, refund ASAP!'}" \
        in out.stdout
    assert "batch: ['bug', 'billing']" in out.stdout
