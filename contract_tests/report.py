"""The run's tally: how often each check ran, warned and failed, and each distinct warning once."""

from __future__ import annotations

from dataclasses import dataclass, field

from .findings import FAIL, WARN, Finding, Verdicts

KEPT_FINDINGS = 500  # for the HTML report; a server failing every probe would otherwise fill it


@dataclass
class Report:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: dict[tuple[str, str], tuple[Finding, int]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)  # the first KEPT_FINDINGS, in the order found

    def add(self, verdicts: Verdicts) -> None:
        for check, ran in verdicts.ran.items():
            self._count(check)["ran"] += ran
        self.findings += verdicts.findings[: KEPT_FINDINGS - len(self.findings)]
        for finding in verdicts.findings:
            self._count(finding.check)[finding.severity] += 1
            if finding.severity == WARN:
                key = (finding.check, finding.message)
                first, seen = self.warnings.get(key, (finding, 0))
                self.warnings[key] = (first, seen + 1)

    def _count(self, check: str) -> dict[str, int]:
        return self.counts.setdefault(check, {"ran": 0, WARN: 0, FAIL: 0})

    def lines(self, strict: bool) -> list[str]:
        if not self.counts:
            return []
        out = [f"{'check':<24} {'ran':>5} {'warned':>7} {'failed':>7}"]
        for check in sorted(self.counts):
            c = self.counts[check]
            out.append(f"{check:<24} {c['ran']:>5} {c[WARN]:>7} {c[FAIL]:>7}")
        if self.warnings:
            note = "failing the run: --contract-strict" if strict else "not failing the run; --contract-strict would"
            out += ["", f"warnings, where only our reading of the spec decides ({note}):"]
            for first, seen in self.warnings.values():
                times = f" (x{seen})" if seen > 1 else ""
                out.append(f"- {first.render().splitlines()[0]}{times}")
        return out
