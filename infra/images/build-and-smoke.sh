#!/usr/bin/env bash
# `make images`: build the scraper and training images with podman on a debootstrapped Debian
# base (no registry pulls), then smoke-test each against moto's S3 server on the host:
#   training: trains a tiny generated set and publishes a version; the promote command (the
#             pipeline's third step) makes it live;
#   scraper:  scrapes the scraper's fixture search pages into the bucket.
# Slow (minutes) and CPU-heavy; not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
START=$(date +%s)
PY=${PY:-.venv/bin/python}
WORK=${TRAYGO_IMAGES_WORK:-build/images}
BASE=${BASE_IMAGE:-localhost/debian:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TAG=${IMAGE_TAG:-dev}
PODMAN=(podman --runtime runc)
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
log() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - START))"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap
fi

if ! "${PODMAN[@]}" image exists "$BASE"; then
  log "debootstrap bookworm -> $BASE"
  as_root rm -rf "$WORK/rootfs"
  as_root debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR"
  as_root tar -C "$WORK/rootfs" -c . | "${PODMAN[@]}" import - "$BASE"
  as_root rm -rf "$WORK/rootfs"
fi

# Where egress goes through a TLS-inspecting proxy, pip inside the build needs the host's CA
# bundle: mounted for the RUN steps only (with a pip.conf naming it), never baked into an image.
# BUILD_CA=none turns this off.
BUILD_CA=${BUILD_CA:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
BUILD_MOUNTS=()
if [ "$BUILD_CA" != none ] && [ -f "$BUILD_CA" ]; then
  printf '[global]\ncert = /run/traygo-build-ca.crt\n' >"$WORK/pip.conf"
  BUILD_MOUNTS=(-v "$BUILD_CA:/run/traygo-build-ca.crt:ro" -v "$WORK/pip.conf:/etc/pip.conf:ro")
fi

build() {  # build NAME DOCKERFILE
  log "build localhost/traygo-$1:$TAG from $2"
  "${PODMAN[@]}" build --network=host --build-arg "BASE_IMAGE=$BASE" "${BUILD_MOUNTS[@]}" \
    -f "$2" -t "localhost/traygo-$1:$TAG" .
}
failed=()
[ -f training/Dockerfile ] && build training training/Dockerfile || failed+=("training: no image (Dockerfile missing or build failed)")
[ -f scraper/Dockerfile ] && build scraper scraper/Dockerfile || failed+=("scraper: no image (Dockerfile missing or build failed)")

# moto's S3 on the host; containers share the host network.
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MOTO_PORT=$(free_port)
.venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT" AWS_ACCESS_KEY_ID=testing \
  AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
"$PY" - <<PYEOF
import time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen("$AWS_ENDPOINT_URL/moto-api/", timeout=1); break
    except OSError:
        time.sleep(0.1)
PYEOF
BUCKET=traygo-smoke
"$PY" -c "import boto3; boto3.client('s3').create_bucket(Bucket='$BUCKET')"
# The fixture search site runs on loopback, which the image fetcher refuses unless told this
# is a test; never set in a deployed job.
AWS_ENV=(-e TRAYGO_STORE="s3://$BUCKET" -e AWS_ENDPOINT_URL -e AWS_ACCESS_KEY_ID
  -e AWS_SECRET_ACCESS_KEY -e AWS_DEFAULT_REGION -e AWS_REGION
  -e TRAYGO_TEST_ALLOW_LOOPBACK_FETCH=1)

# `podman run` where it can start containers; where the kernel refuses the rlimits podman
# always sets (some sandboxes), the same image under runc directly (infra/images/oci_run.py).
if "${PODMAN[@]}" run --rm --network=host "$BASE" true 2>"$WORK/podman-run.log"; then
  RUNNER=podman
else
  RUNNER=runc
  echo "podman run cannot start containers here ($(tail -1 "$WORK/podman-run.log")); using runc"
fi
run_image() {  # run_image NAME ARGS... (ENTRYPOINT is traygo)
  local image="localhost/traygo-$1:$TAG"
  if [ "$RUNNER" = podman ]; then
    "${PODMAN[@]}" run --rm --network=host "${AWS_ENV[@]}" -v "$WORK/smoke:/mnt/smoke:ro" \
      "$image" "${@:2}"
  else
    "$PY" -m infra.images.oci_run "$image" "${AWS_ENV[@]}" -v "$WORK/smoke:/mnt/smoke:ro" \
      -- "${@:2}"
  fi
}

if "${PODMAN[@]}" image exists "localhost/traygo-training:$TAG"; then
  log "smoke: training image trains and publishes"
  "$PY" -m infra.images.smoke seed-training "$BUCKET" "$WORK/smoke"
  if run_image training train --label shapes --labels-file /mnt/smoke/labels.toml --epochs 3 \
      --min-accuracy 0 --resume \
    && run_image training models promote shapes --latest --if-gate-passed \
    && "$PY" -m infra.images.smoke check-model "$BUCKET" shapes; then
    echo "training image: ok"
  else
    failed+=("training: smoke failed")
  fi
fi

if "${PODMAN[@]}" image exists "localhost/traygo-scraper:$TAG"; then
  log "smoke: scraper image stores images from the fixture search pages"
  SITE_PORT=$(free_port)
  "$PY" -m tests.scraper.fixture_site --port "$SITE_PORT" >"$WORK/fixture_site.out" 2>&1 &
  PIDS+=($!)
  # Its first line is the `--engine-url ENGINE=URL ...` arguments that point the engines at it.
  for _ in $(seq 100); do [ -s "$WORK/fixture_site.out" ] && break; sleep 0.1; done
  read -r -a ENGINE_ARGS <"$WORK/fixture_site.out"
  if run_image scraper scrape --query pizza --max 12 "${ENGINE_ARGS[@]}" \
    && "$PY" -m infra.images.smoke check-images "$BUCKET" pizza; then
    echo "scraper image: ok"
  else
    failed+=("scraper: smoke failed")
  fi
fi

log "done"
"${PODMAN[@]}" images --filter "reference=localhost/traygo-*" \
  --format '{{.Repository}}:{{.Tag}} {{.Size}}'
if [ ${#failed[@]} -gt 0 ]; then
  printf 'images: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "images: ok in $(($(date +%s) - START))s"
