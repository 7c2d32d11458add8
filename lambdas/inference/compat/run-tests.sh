#!/usr/bin/env bash
# The handler tests again, under tflite-runtime 2.14 and numpy < 2 (no LiteRT, no TensorFlow).
set -euo pipefail
cd "$(dirname "$0")/../../.."
VENV=.venv-compat
PY=${COMPAT_PYTHON:-python3.11}
REQ=lambdas/inference/compat/requirements.txt
STAMP=$VENV/.installed
if [ ! -f "$STAMP" ] || [ "$REQ" -nt "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  command -v "$PY" >/dev/null || { echo "test-compat: needs $PY (tflite-runtime 2.14 has no wheel for newer Pythons)" >&2; exit 2; }
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e .
  touch "$STAMP"
fi
"$VENV/bin/python" - <<'PY'
import numpy, tflite_runtime
assert numpy.__version__.startswith("1."), numpy.__version__
try:
    import ai_edge_litert  # noqa: F401
    raise SystemExit("compat venv must not have LiteRT: the fallback import is what is tested")
except ImportError:
    pass
print(f"compat: tflite-runtime {tflite_runtime.__version__}, numpy {numpy.__version__}")
PY
# Only the modules that hold compat tests: the others import what this venv leaves out.
mapfile -t FILES < <(grep -l "mark.compat" tests/lambdas/test_*.py)
exec "$VENV/bin/python" -m pytest -q -m compat -p no:cacheprovider "${FILES[@]}" "$@"
