#!/usr/bin/env bash
# `make synth`: the CloudFormation template and assets into cdk.out/, offline, with no AWS
# credentials and no Docker engine (the job images are referenced, built only by `cdk deploy`).
set -euo pipefail
cd "$(dirname "$0")/.."

# The pinned CDK CLI (package-lock.json); reinstalled when the lock changed.
if [ ! -x node_modules/.bin/cdk ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --ignore-scripts
fi
if [ ! -f build/lambda/lambdas/inference/handler.py ]; then
  make --no-print-directory lambda-bundle
fi

# Nothing here needs AWS: drop any credentials and profile so synth cannot reach an account,
# and keep the CLI from phoning home (notices, telemetry and version checks).
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE
export AWS_REGION=${CDK_SYNTH_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true
export CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true
# jsii warns on every run that this Node major is past its support window; once is enough.
NODE_MAJOR=$(node -p "process.versions.node.split('.')[0]")
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=$NODE_MAJOR JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=$NODE_MAJOR
npx --no-install cdk synth --no-notices --no-version-reporting --quiet "$@"
echo "synth: wrote $(ls cdk.out/*.template.json | tr '\n' ' ')"
