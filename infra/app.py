"""The CDK app: `cdk synth` / `cdk deploy` run `python -m infra.app` (see cdk.json).

Context (cdk.json or `-c key=value`): stackName, stage, spot, maxVcpus, apiRateLimit,
apiBurstLimit, apiQuotaPerDay, corsOrigins, lambdaBundle, lambdaMemoryMb,
lambdaReservedConcurrency, mapConcurrency, minAccuracy, logRetentionDays, feedbackRateLimit,
feedbackBurstLimit, feedbackRetentionDays, feedbackRetrainSchedule, baseImage, imageSource.
See docs/deploy.md.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from infra.settings import StackSettings, stack_name
from infra.stack import TraygoStack, add_nag_checks
from traygo.errors import TraygoError


def build(app: cdk.App) -> TraygoStack:
    get = app.node.try_get_context
    stack = TraygoStack(
        app,
        stack_name(get("stackName")),
        settings=StackSettings.from_context(get),
        description="traygo: web image searches turned into food classifiers served over HTTPS",
    )
    add_nag_checks(app)
    return stack


def main() -> int:
    app = cdk.App()
    try:
        build(app)
    except TraygoError as exc:
        print(f"traygo infra: error: {exc}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
