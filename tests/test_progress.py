"""Counted work (training steps) through lazyllm._progress.Progress: a tqdm bar on a
terminal, WARNING log lines at a pace without one. (Uncounted work: tests/cli/test_progress.py.)"""
import logging
import os
import pty
import select
import time

from lazyllm._progress import Progress


def test_counted_work_logs_steps_and_status_at_its_pace(caplog, monkeypatch):
    monkeypatch.setattr(Progress, 'stderr_every', None)
    with caplog.at_level(logging.WARNING, logger='lazyllm'), \
            Progress('lora smol', unit='step', level=logging.WARNING, every=1.0) as progress:
        progress.show('loss 0.9000', done=1, total=10)        # before the first interval
        time.sleep(1.1)
        progress.show('loss 0.5000', done=3, total=10, elapsed=35)
        progress.show('loss 0.4000', done=4, total=10)        # too soon after the last
        time.sleep(1.1)
        progress.show('', done=5, elapsed=40)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, 'lora smol (35s): step 3/10, loss 0.5000'),
        (logging.WARNING, 'lora smol (40s): step 5/?')]


def test_counted_work_draws_a_bar_on_a_terminal():
    leader, follower = pty.openpty()
    try:
        with open(follower, 'w', closefd=False) as tty:
            with Progress('lora smol', unit='step', stream=tty) as progress:
                progress.show('loss 0.5000', done=3, total=10)
        shown = b''
        while select.select([leader], [], [], 0.5)[0]:
            shown += os.read(leader, 65536)
    finally:
        os.close(leader)
        os.close(follower)
    assert '3/10' in shown.decode() and 'loss 0.5000' in shown.decode()
