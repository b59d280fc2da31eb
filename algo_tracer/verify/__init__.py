"""The read path: verify an experiment from the chain or a proof bundle, and gate a rerun on drift.

    from algo_tracer.verify import verify_experiment, check_reproducible

Public modules: `experiment` (verify_experiment), `reproducible` (check_reproducible), `bundle`,
`report` (with its text and HTML renderings, `report_text` and `report_html`) and `drift`;
`evidence`, `checks` and `local_copies` are its insides. Never imports `record`
(import-linter contract): verifying never reaches the write path.
"""

from algo_tracer.verify.bundle import Bundle, export_bundle, verify_bundle
from algo_tracer.verify.experiment import VerifyOptions, verify_experiment
from algo_tracer.verify.report import Timeline, VerificationReport
from algo_tracer.verify.reproducible import check_reproducible

__all__ = [
    "Bundle",
    "Timeline",
    "VerificationReport",
    "VerifyOptions",
    "check_reproducible",
    "export_bundle",
    "verify_bundle",
    "verify_experiment",
]
