"""examples/on_a_cluster.py runs on the real Slurm and Ray clusters with SmolLM2."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize('launcher', ['slurm', 'ray'])
def test_the_cluster_example_answers_and_stops_its_job(launcher, request, smollm_path):
    request.getfixturevalue('slurm' if launcher == 'slurm' else 'ray_address')
    out = subprocess.run([sys.executable, str(ROOT / 'examples' / 'on_a_cluster.py'),
                          str(smollm_path), '--launcher', launcher],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f'{launcher} job ') and ' at http://127.0.0.1:' in lines[0]
    assert 'Paris' in lines[1] and lines[1].startswith('answer: ')
    assert lines[2] == 'job after stop(): stopped'
