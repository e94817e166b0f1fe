#!/usr/bin/env bash
# Installs code-server (a real VS Code whose workbench runs in a browser) into a cache folder outside the repository,
# plus Debian's chromium to drive it. Idempotent: a finished install is reused (CI runs on the same machine).
set -euo pipefail
VERSION="${CODE_SERVER_VERSION:-4.100.3}"
DIR="${CODE_SERVER_DIR:-$HOME/.cache/clip-backdoor-scanner-e2e/code-server-$VERSION}"
STAMP="$DIR/.installed"

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v rg >/dev/null 2>&1 || need_apt+=(ripgrep)
[ -e /usr/include/krb5.h ] || [ -e /usr/include/gssapi/gssapi.h ] || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "e2e: installing Debian packages: ${need_apt[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ -f "$STAMP" ]; then echo "$DIR"; exit 0; fi
echo "e2e: installing code-server $VERSION into $DIR (about 3-4 minutes, once)" >&2
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR"
npm init -y >/dev/null
npm install --ignore-scripts --no-audit --no-fund "code-server@$VERSION" >/dev/null
npm rebuild argon2 >/dev/null
cd node_modules/code-server/lib/vscode
npm install --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null
# node-pty fails to rebuild here; the integrated terminal is not needed by the tests.
npm rebuild @parcel/watcher @vscode/spdlog kerberos native-watchdog @vscode/deviceid >/dev/null
# @vscode/ripgrep's postinstall downloads from GitHub: use Debian's rg instead.
mkdir -p node_modules/@vscode/ripgrep/bin && cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sfn code-linux.sh code-server)
(cd bin/helpers && ln -sfn browser-linux.sh browser.sh)
(cd extensions && npm install --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
touch "$STAMP"
echo "$DIR"
