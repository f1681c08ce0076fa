"""Benchmark of fidelity: how often validate and the emulator give GPULab's own verdict on a job.

The corpus (``tests/fidelity_corpus.py``, several hundred jobs: every field of GPULab's NewJobV4 in legal
and illegal forms) is labelled by GPULab's official model (``imecilabt-gpulab-common``, the test extra).
Validate is asked in-process; the emulator over HTTP on loopback (``POST /v4.0/jobs``, where GPULab's
server model ``NewJobV4`` requires an owner). Prints the agreement, then every difference.

    python bench/fidelity.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpulab_apply.emulator import serve_in_thread
from tests.fidelity_corpus import Agreement, Case, agreement, cases, postable, validate_verdict


def emulator_verdict(root: str) -> object:
    session = requests.Session()

    def verdict(case: Case) -> bool:
        response = session.post(root + "jobs", json=case.job, timeout=30)
        if response.status_code not in (200, 400):
            raise RuntimeError(f"{case.id}: the emulator answered {response.status_code}: {response.text[:200]}")
        return response.status_code == 200

    return verdict


def show(title: str, result: Agreement) -> None:
    print(f"{title}: {result.percent:.1f} % agreement on {result.cases} jobs "
          f"({len(result.false_accepts)} false accepts, {len(result.false_rejects)} false rejects)")
    for kind, ids in (("false accept", result.false_accepts), ("false reject", result.false_rejects)):
        for case_id in ids:
            print(f"    {kind}: {case_id!r}")


def main() -> int:
    corpus = cases()
    show("validate", agreement(lambda case: validate_verdict(case.job), corpus=corpus))
    with serve_in_thread() as running:
        result = agreement(emulator_verdict(running.api_root("4.0")), owner_required=True,  # type: ignore[arg-type]
                           corpus=[case for case in corpus if postable(case)])
    show("emulator", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
