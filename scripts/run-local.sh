#!/usr/bin/env bash
# run-local.sh (make run): try entropyd on this machine in one command.
#
# It creates a SoftHSMv2 token in a local state directory (installing the
# softhsm2 package first if it is missing and we may), builds entropyd, and
# runs it in the foreground against the token, with its metrics on
# localhost. Nothing outside the state directory is touched, except the
# kernel's random pool when run as root (as a user it is a dry run).
#
#   STATE=.local/entropyd   the state directory (token, PIN, config)
#   LISTEN=localhost:9746   where /metrics, /healthz and /readyz are served
#   Extra arguments are passed to "entropyd run".
set -euo pipefail

cd "$(dirname "$0")/.."
STATE=${STATE:-.local/entropyd}
LISTEN=${LISTEN:-localhost:9746}
LABEL=entropyd-local

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'run-local: %s\n' "$*" >&2; exit 1; }

find_module() {
	for p in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
		/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/lib64/pkcs11/libsofthsm2.so \
		/usr/local/lib/softhsm/libsofthsm2.so /opt/homebrew/lib/softhsm/libsofthsm2.so; do
		[ -e "$p" ] && { echo "$p"; return 0; }
	done
	return 1
}

# 1. SoftHSMv2.
if ! command -v softhsm2-util >/dev/null || ! find_module >/dev/null; then
	if command -v apt-get >/dev/null; then
		sudo=""
		[ "$(id -u)" -ne 0 ] && sudo="sudo"
		if [ -n "$sudo" ] && ! sudo -n true 2>/dev/null; then
			die "softhsm2 is missing and installing it needs root: run 'sudo apt-get install softhsm2', then 'make run' again"
		fi
		say "installing softhsm2"
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq softhsm2 >/dev/null
	else
		die "softhsm2 is missing: install SoftHSMv2 (softhsm2-util and libsofthsm2.so) and run 'make run' again"
	fi
fi
MODULE=$(find_module) || die "libsofthsm2.so not found after installing softhsm2"

# 2. A token in the state directory; its PIN in a file only we can read.
mkdir -p "$STATE/tokens"
chmod 0700 "$STATE"
STATE=$(cd "$STATE" && pwd)
export SOFTHSM2_CONF="$STATE/softhsm2.conf"
cat >"$SOFTHSM2_CONF" <<CONF
directories.tokendir = $STATE/tokens
objectstore.backend = file
log.level = ERROR
CONF
if ! softhsm2-util --show-slots 2>/dev/null | grep -q "Label: *$LABEL *$"; then
	say "creating SoftHSM token '$LABEL' in $STATE/tokens"
	umask 077
	od -An -N8 -tx1 /dev/urandom | tr -d ' \n' >"$STATE/pin"
	so_pin=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	softhsm2-util --init-token --free --label "$LABEL" --so-pin "$so_pin" --pin "$(cat "$STATE/pin")" >/dev/null
	unset so_pin
fi

# 3. Build entropyd.
# The first build compiles the dependencies (cgo for PKCS#11 among them) and
# takes about a minute; later ones take seconds.
if [ -x "$STATE/entropyd" ]; then
	say "building entropyd"
else
	say "building entropyd (the first build takes about a minute)"
fi
go build -o "$STATE/entropyd" ./cmd/entropyd

# 4. Run it.
args=(run --pkcs11-uri "pkcs11:token=$LABEL?module-path=$MODULE" --pin-file "$STATE/pin"
	--listen "$LISTEN" --feed-interval 10s)
if [ "$(id -u)" -ne 0 ]; then
	args+=(--no-feed)
	note="not root: dry run, the kernel pool is not fed (run as root to feed it)"
else
	note="feeding the kernel pool every 10 s"
fi
cat >&2 <<MSG

entropyd is starting against the SoftHSM token '$LABEL' ($note).
  metrics:  curl -s http://$LISTEN/metrics | grep ^entropyd_
  health:   curl -s http://$LISTEN/healthz http://$LISTEN/readyz
  logs:     below, one line per event
  token:    SOFTHSM2_CONF=$SOFTHSM2_CONF softhsm2-util --show-slots
            (or pkcs11-tool --module $MODULE with the same SOFTHSM2_CONF)
  state:    $STATE (token, PIN, binary); delete it to start afresh
  stop:     Ctrl-C

MSG
exec "$STATE/entropyd" "${args[@]}" "$@"
