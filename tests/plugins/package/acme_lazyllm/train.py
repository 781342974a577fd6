"""The job of ``acme_copy``, run as ``python -m acme_lazyllm.train <job.json>``: it keeps the
base weights (a copy), counts the trainset, and speaks lazyllm's job protocol by hand: a
``LAZYLLM_PROGRESS`` line per record, and ``metrics.json`` in the output folder."""
import json
import os
import shutil
import sys
from pathlib import Path


def main(job_json: str) -> None:
    job = json.loads(Path(job_json).read_text(encoding='utf-8'))
    records = Path(job['trainset']).read_text(encoding='utf-8').splitlines()
    for step, _ in enumerate(records, 1):
        data = {'step': step, 'total': len(records), 'loss': 0.0, 'epoch': 1.0}
        print(f'LAZYLLM_PROGRESS {json.dumps(data)}', flush=True)
    shutil.copytree(job['base'], job['output'], dirs_exist_ok=True)
    metrics = {'steps': len(records), 'launcher': os.environ.get('ACME_LAUNCHER')}
    Path(job['output'], 'metrics.json').write_text(json.dumps(metrics), encoding='utf-8')


if __name__ == '__main__':
    main(sys.argv[1])
