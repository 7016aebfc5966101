#!/usr/bin/env bash
# quality.sh (make quality, make quality-short): hsmrand Reader output,
# drawn from a SoftHSM token, through statistical test suites.
#
#   scripts/quality.sh full    SIZE bytes (default 1 GiB) through ent, then an
#                              endless stream through dieharder -a (-Y 1:
#                              WEAK results are re-run until they resolve);
#                              fails on any FAILED. About 40 minutes on a 2-core machine.
#   scripts/quality.sh short   SIZE bytes (default 4 MiB) through ent, and the
#                              first 1,000,000 through entropyd assess --iid
#                              (SP 800-90B Section 5); CI runs this.
#
# ent gives no verdict; this script fails when a statistic is more than six
# standard deviations from its expectation for SIZE uniform bytes (a false
# alarm about once in 10^8 runs): chi-square (255 degrees of freedom: mean
# 255, sd sqrt(510)), the mean (127.5, sd 73.9/sqrt(N)) and the serial
# correlation (0, sd 1/sqrt(N)). Needs softhsm2, ent and, for full, dieharder.
# Results go to $OUT (default bin/quality).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
case $mode in
full) size=${SIZE:-1073741824} ;;
short) size=${SIZE:-4194304} ;;
*) echo "usage: $0 full|short" >&2; exit 2 ;;
esac
out=${OUT:-bin/quality}
mkdir -p "$out"
for tool in softhsm2-util ent $([ "$mode" = full ] && echo dieharder); do
	command -v "$tool" >/dev/null || { echo "quality: $tool is missing (apt-get install softhsm2 ent dieharder)" >&2; exit 1; }
done
module=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so /usr/lib64/pkcs11/libsofthsm2.so; do
	[ -e "$m" ] && module=$m && break
done
[ -n "$module" ] || { echo "quality: libsofthsm2.so not found" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$work/tokens" >"$work/softhsm2.conf"
export SOFTHSM2_CONF=$work/softhsm2.conf
softhsm2-util --init-token --free --label quality --pin "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
	--so-pin "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" >/dev/null
export HSMRAND_URI="pkcs11:token=quality?module-path=$module" # no login: SoftHSM allows C_GenerateRandom without

go build -o "$work/stream" ./internal/cmd/hsmrand-stream
go build -o "$work/entropyd" ./cmd/entropyd

echo "== $size bytes of hsmrand output (SoftHSM token) through ent"
"$work/stream" -bytes "$size" >"$work/sample.bin"
ent "$work/sample.bin" | tee "$out/ent.txt"
ent -t "$work/sample.bin" | awk -F, -v n="$size" '
	NR == 2 {
		bad = 0
		chi = $4; mean = $5; corr = $7
		if (chi < 255 - 6*sqrt(510) || chi > 255 + 6*sqrt(510)) { print "FAILED: chi-square " chi; bad = 1 }
		if (mean < 127.5 - 6*73.9/sqrt(n) || mean > 127.5 + 6*73.9/sqrt(n)) { print "FAILED: mean " mean; bad = 1 }
		if (corr < -6/sqrt(n) || corr > 6/sqrt(n)) { print "FAILED: serial correlation " corr; bad = 1 }
		if (!bad) print "ent: PASSED (chi-square " chi ", mean " mean ", serial correlation " corr ")"
		exit bad
	}' | tee -a "$out/ent.txt"
[ "${PIPESTATUS[1]}" -eq 0 ] || exit 1

if [ "$mode" = short ]; then
	echo "== the first 1,000,000 bytes through entropyd assess --iid"
	head -c 1000000 "$work/sample.bin" | "$work/entropyd" assess --iid - | tee "$out/assess-iid.txt"
	if grep -E '^(Permutation|Chi-square|LRS) .* failed' "$out/assess-iid.txt"; then
		echo "assess: FAILED: the output does not pass the SP 800-90B IID tests" >&2
		exit 1
	fi
	[ "$(grep -cE '^(Permutation|Chi-square|LRS) .* passed' "$out/assess-iid.txt")" -eq 3 ] || { echo "assess: FAILED: no verdict" >&2; exit 1; }
	echo "quality short: PASSED"
	exit 0
fi

echo "== an endless stream through dieharder -a -g 200 -Y 1 (about 40 minutes on 2 cores)"
"$work/stream" | dieharder -a -g 200 -Y 1 | tee "$out/dieharder.txt"
failed=$(grep -c 'FAILED' "$out/dieharder.txt" || true)
passed=$(grep -c 'PASSED' "$out/dieharder.txt" || true)
weak=$(grep -c 'WEAK' "$out/dieharder.txt" || true)
echo "dieharder: $passed PASSED, $weak WEAK, $failed FAILED" | tee -a "$out/dieharder.txt"
[ "$failed" -eq 0 ] || exit 1
echo "quality full: PASSED"
