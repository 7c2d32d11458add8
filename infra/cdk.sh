#!/usr/bin/env bash
# `make synth|diff|deploy|destroy`: the pinned CDK CLI (npm ci from package-lock.json) running
# the app with the deploy-only venv (CDK_VENV, default .venv-deploy: the infra extra, no
# TensorFlow, no Chromium). synth runs offline with no credentials and no Docker; deploy builds
# and pushes the job images, so it needs Docker or podman (CDK_DOCKER=podman).
set -euo pipefail
cd "$(dirname "$0")/.."
COMMAND=${1:?usage: infra/cdk.sh synth|diff|deploy|destroy [cdk options]}
shift
VENV=${CDK_VENV:-.venv-deploy}

if [ ! -x node_modules/.bin/cdk ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --ignore-scripts
fi
if [ ! -f build/lambda/lambdas/inference/handler.py ]; then
  PIP="$VENV/bin/pip" bash lambdas/inference/build-bundle.sh
fi

export CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true
# jsii warns on every run that this Node major is past its support window; once is enough.
NODE_MAJOR=$(node -p "process.versions.node.split('.')[0]")
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=$NODE_MAJOR JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=$NODE_MAJOR
CDK=(npx --no-install cdk --app "$VENV/bin/python -m infra.app" --no-notices --no-version-reporting)

case "$COMMAND" in
  synth)
    # Nothing here needs AWS: drop any credentials and profile so synth cannot reach an account.
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE
    export AWS_REGION=${CDK_SYNTH_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true
    "${CDK[@]}" synth --quiet "$@"
    echo "synth: wrote $(ls cdk.out/*.template.json | tr '\n' ' ')"
    ;;
  diff | deploy | destroy)
    "${CDK[@]}" "$COMMAND" "$@"
    ;;
  *)
    echo "infra/cdk.sh: unknown command $COMMAND (synth, diff, deploy or destroy)" >&2
    exit 2
    ;;
esac
