#!/usr/bin/env bash
# Installs the real third-party programs that Portcullis's tests and bench/ run against
# (Debian packages only; recipes and pitfalls in shared/PEERS.md).
#
#   sudo bash scripts/install-peers.sh            # the peers needed today
#   sudo bash scripts/install-peers.sh pebble:pebble slapd:slapd   # extra package:binary pairs
#
# Non-interactive and idempotent: when every binary is already on PATH it does not touch apt.
# Debian's server packages try to start their service on install; a policy-rc.d that answers
# 101 ("action forbidden") keeps them from doing so, so nothing is left listening on :80.
set -euo pipefail

# package:binary pairs needed by the tests and benchmarks that exist now. Keep this list short:
# every package here costs CI time on a fresh machine.
PEERS=(
  caddy:caddy                 # bench peer, forward_auth client
  nginx:nginx                 # bench peer, auth_request client
  wrk:wrk                     # HTTP/1.1 load generator for bench/
  nghttp2-client:h2load       # HTTP/2 load generator / client
  curl:curl
  openssl:openssl
  util-linux:taskset          # pins servers and load generators to cores
  pebble:pebble               # ACME server for issuance and renewal tests
  pebble:pebble-challtestsrv  # DNS for pebble's challenge validation
  apache2:apache2             # a third-party OpenID relying party (with the module below)
  libapache2-mod-auth-openidc:/usr/lib/apache2/modules/mod_auth_openidc.so
  chromium:chromium           # login pages in a real browser (playwright-core drives it)
  crowdsec:cscli              # CrowdSec LAPI for bouncer and watcher interop
  bind9:named                 # RFC 2136 + TSIG DNS server for the ACME DNS-01 challenge
)
# Added with the issues that need them (move a line up into PEERS then):
#   slapd:slapd ldap-utils:ldapadd               LDAP user store
#   postgresql:pg_ctlcluster                     multi-node store
PEERS+=("$@")

# A binary is either a name looked up on PATH (plus the sbin dirs, which a non-login root
# shell may lack) or an absolute path that must exist.
has_binary() {
  case "$1" in
    /*) [ -e "$1" ] ;;
    *) PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for pair in "${PEERS[@]}"; do
  pkg="${pair%%:*}"
  bin="${pair#*:}"
  if ! has_binary "$bin"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-peers: all peers present, nothing to install"
  exit 0
fi
# One package may provide several binaries; install each once.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-peers: need root to install: ${missing[*]} (run: sudo bash $0)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Forbid service starts during the install unless the machine already has a policy of its own.
POLICY=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
  own_policy=1
fi
cleanup() {
  if [ "$own_policy" -eq 1 ]; then rm -f "$POLICY"; fi
}
trap cleanup EXIT

# CrowdSec's postinst registers with the central API unless this file exists; the tests use a
# Local API on loopback only, so leave it a comment (shared/PEERS.md).
if printf '%s\n' "${missing[@]}" | grep -qx crowdsec && [ ! -e /etc/crowdsec/online_api_credentials.yaml ]; then
  mkdir -p /etc/crowdsec
  echo '# no central API: Portcullis tests run a Local API on loopback only' >/etc/crowdsec/online_api_credentials.yaml
fi

echo "install-peers: installing ${missing[*]}"
apt_retry() {
  local try
  for try in 1 2 3; do
    if "$@"; then return 0; fi
    echo "install-peers: '$*' failed (try $try/3)" >&2
    sleep $((try * 5))
  done
  return 1
}
apt_retry apt-get update -q
apt_retry apt-get install -y -q --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing[@]}"

# Belt and braces: a packaged service that started anyway (machine without the policy hook)
# would hold :80 and confuse tests. Stop what the packages' pid files name.
listening_on_80() {
  # /proc/net/tcp{,6}: local address column ends in :0050 (port 80), state 0A is LISTEN.
  awk 'NR > 1 && $2 ~ /:0050$/ && $4 == "0A" { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
if listening_on_80; then
  for pidfile in /run/nginx.pid /var/run/nginx.pid /run/caddy.pid /run/apache2/apache2.pid; do
    if [ -s "$pidfile" ]; then
      kill "$(cat "$pidfile")" 2>/dev/null || true
    fi
  done
  sleep 1
  if listening_on_80; then
    echo "install-peers: warning: something still listens on port 80" >&2
  fi
fi

for pair in "${PEERS[@]}"; do
  bin="${pair#*:}"
  if ! has_binary "$bin"; then
    echo "install-peers: ${bin} still missing after install" >&2
    exit 1
  fi
done
echo "install-peers: done"
