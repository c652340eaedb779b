"""Known vulnerabilities of the locked dependencies: pip-audit over requirements/constraints.txt.

`python -m tools.audit [REQUIREMENTS]` exits 0 when no locked version has a known vulnerability, 1
naming each one that has (with the release that fixes it), and 3 when the vulnerability service could
not be asked: pip-audit then marks every package "not found on PyPI" instead of failing, which would
read as a pass. It needs the internet (PyPI's JSON API), so `make test` does not run it; CI's audit
job does.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CANNOT_REACH = 3
DEFAULT_REQUIREMENTS = Path("requirements/constraints.txt")
# Dependencies pip-audit skips because it could not look them up (rather than, say, a local path).
UNREACHABLE_SKIP = "could not be audited"


@dataclass(frozen=True)
class Finding:
    name: str
    version: str
    advisory: str
    fixed_in: tuple[str, ...]

    def describe(self) -> str:
        fix = f"fixed in {', '.join(self.fixed_in)}" if self.fixed_in else "no fixed release yet"
        return f"{self.name} {self.version}: {self.advisory} ({fix})"


@dataclass(frozen=True)
class Audit:
    findings: list[Finding]
    audited: int
    unreachable: list[str]


def read_report(report: dict) -> Audit:
    """What pip-audit's JSON report says: the vulnerable versions, and which packages it could not ask about."""
    findings, unreachable, audited = [], [], 0
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            if UNREACHABLE_SKIP in dependency["skip_reason"]:
                unreachable.append(dependency["name"])
            continue
        audited += 1
        for vulnerability in dependency.get("vulns", []):
            findings.append(
                Finding(
                    dependency["name"],
                    dependency["version"],
                    vulnerability["id"],
                    tuple(vulnerability.get("fix_versions", [])),
                )
            )
    return Audit(findings, audited, unreachable)


def run_pip_audit(requirements: Path) -> dict:
    # --no-deps and --disable-pip: the file is already the whole resolved set, so pip-audit only looks
    # the versions up instead of resolving them again in a throwaway environment.
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--requirement",
        str(requirements),
        "--no-deps",
        "--disable-pip",
        "--format",
        "json",
        "--progress-spinner",
        "off",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if not result.stdout.strip():
        raise SystemExit(f"pip-audit failed (exit {result.returncode}):\n{result.stderr.strip()}")
    return json.loads(result.stdout)


def verdict(audit: Audit) -> tuple[int, list[str]]:
    """The exit code and the lines to print."""
    if audit.audited == 0 and audit.unreachable:
        return CANNOT_REACH, [
            f"audit: could not reach the vulnerability service for any of {len(audit.unreachable)} packages "
            "(pip-audit asks PyPI's JSON API over the internet).",
            "audit: nothing was checked. Run `make audit` on a machine with internet access; CI's audit job does.",
        ]
    lines = [f"audit: {audit.audited} packages checked, {len(audit.findings)} known vulnerabilities"]
    if audit.unreachable:
        lines.append(f"audit: not checked (lookup failed): {', '.join(sorted(audit.unreachable))}")
    lines += [f"  {finding.describe()}" for finding in audit.findings]
    if audit.findings:
        lines.append("audit: raise the version in pyproject.toml if the floor is affected, then `make lock`")
        return 1, lines
    return (CANNOT_REACH if audit.unreachable else 0), lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requirements", nargs="?", type=Path, default=DEFAULT_REQUIREMENTS)
    arguments = parser.parse_args(argv)
    code, lines = verdict(read_report(run_pip_audit(arguments.requirements)))
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
