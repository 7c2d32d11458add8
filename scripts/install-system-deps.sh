#!/usr/bin/env bash
# Installs the Debian packages the tests need when they are missing: chromium and its driver
# (scraper and demo-page tests), and Node.js (aws-cdk-lib runs on jsii, which needs `node`).
set -euo pipefail
packages=()
command -v chromium >/dev/null && command -v chromedriver >/dev/null || packages+=(chromium chromium-driver)
command -v node >/dev/null || packages+=(nodejs)
[ ${#packages[@]} -gt 0 ] || exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to apt-get install ${packages[*]}" >&2; exit 1; }
  sudo="sudo"
fi
command -v apt-get >/dev/null || { echo "no apt-get: install ${packages[*]} by hand" >&2; exit 1; }
echo "installing ${packages[*]} (Debian packages) ..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
command -v chromium >/dev/null && chromium --version
exit 0
