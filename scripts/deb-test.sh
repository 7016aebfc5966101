#!/usr/bin/env bash
# deb-test.sh: build the Debian package and try it on this machine, as CI
# does (as root, on a Debian machine that has no entropyd package):
# lintian with no error, dpkg -i, the files and their permissions, the
# installed "entropyd version" (the stamped version) and "entropyd check"
# against a SoftHSM token, as root and as the system user, then dpkg --purge
# and nothing left behind.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "deb-test: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run as root (it installs and purges the package)"
! dpkg -s entropyd >/dev/null 2>&1 || fail "an entropyd package is already installed"

deb=$(make -s deb | tail -1)
[ -f "$deb" ] || fail "make deb made no package"
echo "== $deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
dpkg-deb --contents "$deb"

echo "== lintian"
lintian --fail-on error --tag-display-limit 0 "$deb" || fail "lintian reports errors"

work=$(mktemp -d)
cleanup() {
	dpkg --purge entropyd >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== dpkg -i"
dpkg -i "$deb"
getent passwd entropyd >/dev/null || fail "no system user entropyd"
[ "$(stat -c '%U:%G %a' /etc/entropyd)" = "root:entropyd 750" ] || fail "/etc/entropyd is $(stat -c '%U:%G %a' /etc/entropyd)"
[ "$(stat -c '%U:%G %a' /usr/sbin/entropyd)" = "root:root 755" ] || fail "/usr/sbin/entropyd is $(stat -c '%U:%G %a' /usr/sbin/entropyd)"
dpkg-query -W -f='${Conffiles}\n' entropyd | grep -q '/etc/entropyd/entropyd.conf' || fail "entropy.conf is not a conffile"
# The unit as installed: an unknown key or a bad value is named by its line.
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify /lib/systemd/system/entropyd.service 2>&1 || true)
	! grep 'entropyd\.service' <<<"$out" || fail "systemd-analyze verify finds fault with the unit"
fi

echo "== entropyd version"
got=$(/usr/sbin/entropyd version | awk '{ print $2 }')
pkg=$(dpkg-query -W -f='${Version}' entropyd)
want=$(echo "${got#v}" | sed -e 's/-/~/' -e 's/-/./g')
echo "entropyd $got, package $pkg"
[ "$want" = "$pkg" ] || fail "entropyd version prints $got, which is not the package's version $pkg"

echo "== entropyd check against SoftHSM"
export SOFTHSM2_CONF=$work/softhsm2.conf
mkdir -p "$work/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$work" >"$SOFTHSM2_CONF"
pin=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
softhsm2-util --init-token --free --label deb-test --so-pin "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" --pin "$pin" >/dev/null
# The PIN where an operator puts it: readable by root and the service only.
install -m 0640 -o root -g entropyd /dev/null /etc/entropyd/pin
printf '%s\n' "$pin" >/etc/entropyd/pin
cat >>/etc/entropyd/entropyd.conf <<EOF
pkcs11-uri = pkcs11:token=deb-test?module-path=/usr/lib/softhsm/libsofthsm2.so
pin-file = /etc/entropyd/pin
EOF
/usr/sbin/entropyd check --config /etc/entropyd/entropyd.conf || fail "entropyd check as root"
# As the service runs: the system user reads the configuration and the PIN.
# Without the unit's ambient CAP_SYS_ADMIN it cannot feed: --no-feed.
chmod 0755 "$work"
chown -R entropyd:entropyd "$work/tokens"
chmod 0644 "$SOFTHSM2_CONF"
runuser -u entropyd -- env SOFTHSM2_CONF="$SOFTHSM2_CONF" \
	/usr/sbin/entropyd check --config /etc/entropyd/entropyd.conf --no-feed || fail "entropyd check as the user entropyd"

echo "== dpkg --purge"
dpkg --purge entropyd
for f in /usr/sbin/entropyd /lib/systemd/system/entropyd.service /etc/entropyd /usr/share/doc/entropyd; do
	[ ! -e "$f" ] || fail "$f is left after the purge"
done
echo "deb-test: ok"
