#!/usr/bin/env bash
# The inference Lambda's bundle for python3.12 on x86_64 (Amazon Linux 2023), built without
# Docker: pip picks manylinux wheels for that platform whatever this machine is.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/lambda}
PIP=${PIP:-.venv/bin/pip}
LIMIT_MB=250  # Lambda's unzipped limit
rm -rf "$OUT"
mkdir -p "$OUT"
# boto3 is in the Lambda runtime already; everything else the handler imports is pinned here.
grep -iE '^(ai-edge-litert|ai_edge_litert|numpy|pillow|urllib3|aws-lambda-powertools|aws_lambda_powertools|typing-extensions|typing_extensions|jmespath|pydantic|pydantic_core|pydantic-core|annotated-types|annotated_types|typing-inspection|typing_inspection)==' \
  requirements/constraints.txt > "$OUT.requirements.txt"
"$PIP" install -q --disable-pip-version-check --target "$OUT" \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux2014_x86_64 --implementation cp --python-version 3.12 \
  --only-binary=:all: -c requirements/constraints.txt -r "$OUT.requirements.txt"
rm "$OUT.requirements.txt"
for pkg in traygo lambdas; do
  (tar -cf - --exclude=__pycache__ --exclude='*.pyc' --exclude=data/demo_models "$pkg") | tar -C "$OUT" -xf -
done
for banned in tensorflow selenium keras; do
  if ls "$OUT" | grep -qi "^$banned"; then echo "bundle: $banned must not be in the Lambda" >&2; exit 1; fi
done
SIZE_MB=$(du -sm "$OUT" | cut -f1)
echo "lambda bundle: $OUT, ${SIZE_MB} MB unzipped (limit ${LIMIT_MB} MB), handler lambdas.inference.handler.handler"
if [ "$SIZE_MB" -gt "$LIMIT_MB" ]; then echo "bundle: over Lambda's ${LIMIT_MB} MB limit" >&2; exit 1; fi
