#!/usr/bin/env bash
# fleet-load.sh: the HSM load of a fleet of entropyd, measured on one machine.
#
# It starts HOSTS entropyd processes (dry runs, --no-feed: the load on the
# token does not depend on the ioctl) against one SoftHSM token behind the
# fault module (bin/libfaultp11.so), which adds LATENCY to every
# C_GenerateRandom and limits the token to SESSIONS sessions over all the
# processes. After every process is ready it counts, over WINDOW, the
# token's C_GenerateRandom calls (from the fault module's call log) and the
# bytes the processes drew (the sum of their entropyd_hsm_bytes_total), and
# compares them with the model
#
#   calls/s = HOSTS / (INTERVAL + draw time)
#   bytes/s = HOSTS x HSMBuffer / (INTERVAL + draw time)
#
# (each entropyd's hsmrand buffer, 2 KiB, expires after one feed interval
# and is drawn again in one call; docs/operations.md derives it). Then, with
# OUTAGE > 0, it takes the token away for OUTAGE and reports how the fleet
# went down and came back: time until every process was serving again and
# the calls in the seconds after the return.
#
#   HOSTS=40 INTERVAL=2s LATENCY_MS=20 SESSIONS=0 WINDOW=60 OUTAGE=30
#   SESSIONS=0 means twice HOSTS (no process is refused); set it lower to
#   see what a token at its session limit does to the fleet.
#   OUT=bin/fleet-load   where the token, logs and results go
set -euo pipefail
cd "$(dirname "$0")/.."

HOSTS=${HOSTS:-40}
INTERVAL=${INTERVAL:-2s}
LATENCY_MS=${LATENCY_MS:-20}
SESSIONS=${SESSIONS:-0}
WINDOW=${WINDOW:-60}
OUTAGE=${OUTAGE:-30}
OUT=${OUT:-bin/fleet-load}
BASEPORT=${BASEPORT:-19700}
HSM_BUFFER=2048 # hsmrand.MinHSMBuffer, which entropyd sets
[ "$SESSIONS" -gt 0 ] || SESSIONS=$((2 * HOSTS))

say() { printf '==> %s\n' "$*" >&2; }

make -s faultp11 entropyd >/dev/null
rm -rf "$OUT"
mkdir -p "$OUT/tokens" "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
export SOFTHSM2_CONF="$OUT/softhsm2.conf"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$OUT" >"$SOFTHSM2_CONF"
umask 077
od -An -N8 -tx1 /dev/urandom | tr -d ' \n' >"$OUT/pin"
softhsm2-util --init-token --free --label fleet --so-pin "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
	--pin "$(cat "$OUT/pin")" >/dev/null

export FAULTP11_CONTROL="$OUT/faultp11.conf" FAULTP11_LOG="$OUT/calls.log"
control() { # atomically, as internal/faultp11.Control does
	printf '%s\n' "$@" >"$FAULTP11_CONTROL.tmp"
	mv "$FAULTP11_CONTROL.tmp" "$FAULTP11_CONTROL"
}
control "delay C_GenerateRandom $((LATENCY_MS * 1000))" "sessions $SESSIONS"

pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop EXIT

say "starting $HOSTS entropyd (feed interval $INTERVAL, token latency ${LATENCY_MS} ms, $SESSIONS sessions)"
for i in $(seq 0 $((HOSTS - 1))); do
	./bin/entropyd run --no-feed --feed-interval "$INTERVAL" --listen "127.0.0.1:$((BASEPORT + i))" \
		--log-format json --pkcs11-uri "pkcs11:token=fleet?module-path=$PWD/bin/libfaultp11.so" \
		--pin-file "$OUT/pin" 2>"$OUT/logs/$i.log" &
	pids+=($!)
	sleep 0.05
done

# scrape prints "serving up calls bytes": processes serving /readyz, those
# whose token is up, and the sums of their C_GenerateRandom calls and HSM
# bytes.
scrape() {
	local serving=0 up=0 calls=0 bytes=0 m
	for i in $(seq 0 $((HOSTS - 1))); do
		curl -fs -o /dev/null "http://127.0.0.1:$((BASEPORT + i))/readyz" && serving=$((serving + 1))
		m=$(curl -fs "http://127.0.0.1:$((BASEPORT + i))/metrics" || true)
		read -r u c b < <(awk '
			/^entropyd_pkcs11_token_state\{.*state="up"/ { u += $NF }
			/^entropyd_pkcs11_generate_random_calls_total\{/ { c += $NF }
			/^entropyd_hsm_bytes_total\{/ { b += $NF }
			END { printf "%d %d %d\n", u, c, b }' <<<"$m")
		up=$((up + u)) calls=$((calls + c)) bytes=$((bytes + b))
	done
	echo "$serving $up $calls $bytes"
}
logcalls() { grep -c '^C_GenerateRandom 0x0$' "$FAULTP11_LOG" || true; }
seats() { lslocks -n -o PATH 2>/dev/null | grep -c "^$FAULTP11_CONTROL.session\." || true; }

for _ in $(seq 60); do
	read -r serving _ _ _ < <(scrape)
	[ "$serving" -eq "$HOSTS" ] && break
	sleep 1
done
say "$serving of $HOSTS ready; $(seats) sessions open on the token"
sleep 5 # past the start-up draws

interval_s=$(awk -v d="$INTERVAL" 'BEGIN { v = d + 0; if (d ~ /ms$/) v /= 1000; else if (d ~ /m$/) v *= 60; print v }')
read -r _ _ c0 b0 < <(scrape)
l0=$(logcalls)
t0=$(date +%s.%N)
sleep "$WINDOW"
read -r serving up c1 b1 < <(scrape)
l1=$(logcalls)
t1=$(date +%s.%N)

awk -v h="$HOSTS" -v i="$interval_s" -v lat="$LATENCY_MS" -v buf="$HSM_BUFFER" \
	-v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v b0="$b0" -v b1="$b1" -v l0="$l0" -v l1="$l1" \
	-v serving="$serving" -v up="$up" -v seats="$(seats)" -v sessions="$SESSIONS" '
BEGIN {
	w = t1 - t0
	period = i + lat / 1000
	printf "hosts %d, feed interval %.3f s, token latency %d ms, session limit %d, %d sessions open\n", h, i, lat, sessions, seats
	printf "window %.1f s; serving at the end %d, token up in %d\n", w, serving, up
	printf "C_GenerateRandom calls/s: token log %.2f, entropyd metrics %.2f; model %.2f\n", (l1 - l0) / w, (c1 - c0) / w, h / period
	printf "HSM bytes/s: entropyd metrics %.0f; model %.0f (%.1f%% of the model)\n", (b1 - b0) / w, h * buf / period, 100 * (b1 - b0) / w / (h * buf / period)
	printf "HSM bytes per host per feed: %.0f\n", (b1 - b0) / w / h * i
}' | tee "$OUT/steady.txt"

[ "$OUTAGE" -gt 0 ] || exit 0

say "taking the token away for ${OUTAGE}s"
ok_before=$(logcalls)
all_before=$(wc -l <"$FAULTP11_LOG")
control "delay C_GenerateRandom $((LATENCY_MS * 1000))" "sessions $SESSIONS" "removed $((OUTAGE * 1000))"
start=$(date +%s.%N)
down_at="" back_all="" all_at_return=""
: >"$OUT/outage.tsv"
while :; do
	now=$(date +%s.%N)
	read -r serving up _ _ < <(scrape)
	t=$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
	printf '%s\t%s\t%s\t%s\n' "$t" "$serving" "$up" "$(logcalls)" >>"$OUT/outage.tsv"
	[ -z "$down_at" ] && [ "$up" -eq 0 ] && down_at=$t
	if awk -v t="$t" -v o="$OUTAGE" 'BEGIN { exit !(t >= o) }'; then
		[ -z "$all_at_return" ] && all_at_return=$(wc -l <"$FAULTP11_LOG")
		if [ "$up" -eq "$HOSTS" ]; then
			back_all=$t
			break
		fi
	fi
	awk -v t="$t" -v o="$OUTAGE" 'BEGIN { exit !(t > o + 120) }' && break
	sleep 1
done
ok_back=$(logcalls)
{
	printf 'outage of %d s: every token down %s s after the removal; every token up again %s s after it (%s s after the return)\n' \
		"$OUTAGE" "${down_at:-never}" "${back_all:-never}" \
		"$(awk -v a="${back_all:-0}" -v o="$OUTAGE" 'BEGIN { printf "%.1f", a - o }')"
	printf 'calls to the token during the outage (every function, all refused): %d, %.1f/s\n' \
		"$((all_at_return - all_before))" "$(awk -v n="$((all_at_return - all_before))" -v o="$OUTAGE" 'BEGIN { print n / o }')"
	printf 'C_GenerateRandom calls served from the return until every token was up: %d (a full buffer, %d bytes, each)\n' \
		"$((ok_back - ok_before))" "$HSM_BUFFER"
	printf 'trace, one line a second (seconds since the removal, serving /readyz, tokens up, calls served so far): %s\n' "$OUT/outage.tsv"
} | tee "$OUT/outage.txt"
