"""A study and a plan as text: the lines `algo-tracer verify` and `show` print for them."""

from __future__ import annotations

from algo_tracer.verify.report import VerificationReport

__all__ = ["format_study"]


def format_study(r: VerificationReport) -> list[str]:
    """The plan line and a study's trials table (objective against trial number)."""
    lines = []
    if r.plan is not None:
        lines.append(f"plan: {r.plan.line()}")
        if r.plan.plan is not None:
            lines += [f"  {key}: {value}" for key, value in sorted(r.plan.plan.items())]
    s = r.study
    if s is None:
        return lines
    lines.append(f"study: {s.objective} ({s.direction}), {s.headline()}")
    values = [t.value for t in s.trials if t.value is not None]
    low, high = (min(values), max(values)) if values else (0.0, 0.0)
    for t in s.trials:
        bar = ""
        if t.value is not None:
            width = 1 + round(29 * ((t.value - low) / (high - low) if high > low else 1.0))
            bar = "#" * width
        mark = "*" if t.experiment == s.selected else " "
        value = "-" if t.value is None else f"{t.value:.6g}"
        lines.append(f" {mark}{t.number:>4} {t.state:<8} {value:>12} {bar:<30} {t.experiment}"
                     f" round {t.round}{'' if t.ok else '  FAIL: ' + t.message}")
    for trial in s.outside:
        lines.append(f"  FAIL: {trial} names this study but is not recorded in it")
    return lines
