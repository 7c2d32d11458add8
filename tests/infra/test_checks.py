"""cdk-nag (AwsSolutions) and cfn-lint over the synthesized stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import Synthesized, synth

# CDK adds DependsOn on a role that a GetAtt already implies; harmless, and not ours to change.
CFN_LINT_IGNORED = ["W3005"]


def test_cdk_nag_reports_nothing_unreviewed(synthesized: Synthesized) -> None:
    report = json.loads((synthesized.outdir / "policy-validation-report.json").read_text())
    violations = [v for r in report.get("pluginReports", []) for v in r["violations"]]
    assert violations == []
    assert all(r["summary"]["status"] == "success" for r in report.get("pluginReports", []))


def test_cdk_nag_fails_synth_on_a_new_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pack is live: an unreviewed wildcard grant stops the synth."""
    from aws_cdk import aws_iam as iam

    import infra.stack

    original = infra.stack.TraygoStack._outputs

    def with_a_wildcard(self: infra.stack.TraygoStack) -> None:
        original(self)
        self.inference.function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"])
        )

    monkeypatch.setattr(infra.stack.TraygoStack, "_outputs", with_a_wildcard)
    with pytest.raises(Exception, match="AwsSolutions-IAM5"):
        synth(tmp_path, {})
    report = json.loads((tmp_path / "cdk.out" / "policy-validation-report.json").read_text())
    rules = {v["ruleName"] for r in report["pluginReports"] for v in r["violations"]}
    assert rules == {"AwsSolutions-IAM5[Resource::*]"}


def test_cfn_lint_is_clean(synthesized: Synthesized) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--ignore-checks",
            *CFN_LINT_IGNORED,
            "--",
            str(synthesized.template_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
