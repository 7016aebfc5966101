#!/usr/bin/env bash
# build-deb.sh (make deb): entropyd_VERSION_ARCH.deb in bin/, with dpkg-deb.
#
# It packages the commit checked out (HEAD), not uncommitted changes: it
# builds from a clone of it, so that the go command stamps the binary with
# the commit's version (a tag vX.Y.Z, or the pseudo-version
# v0.0.0-YYYYMMDDhhmmss-commit), which "entropyd version" prints and the
# package's version is made from (v dropped, the pseudo-version's hyphens
# made "~" and "." so that it sorts before the release it leads to).
#
# Contents (Debian bookworm layout):
#   /usr/sbin/entropyd                    0755, PIE, stripped
#   /lib/systemd/system/entropyd.service  contrib/systemd/entropyd.service with
#                                         /usr/sbin, run as the system user
#                                         entropyd with CAP_SYS_ADMIN ambient
#   /etc/entropyd/entropyd.conf           a conffile; the directory 0750
#                                         root:entropyd (postinst)
#   /usr/share/man/man8/entropyd.8.gz     from MANPAGE (cmd/entropyd/entropyd.8 in
#                                         the commit, or an absolute path) when
#                                         it exists; else none, and a note
#   /usr/share/doc/entropyd/              copyright, changelog.gz, operations.md.gz
# and contrib/debian's maintainer scripts: the system user entropyd,
# directory permissions, no start at installation, purge removes /etc/entropyd.
#
#   MANPAGE=cmd/entropyd/entropyd.8  DEB_MAINTAINER="Name <mail>"  OUT=bin
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GO=${GO:-go}
OUT=${OUT:-bin}
MANPAGE=${MANPAGE:-cmd/entropyd/entropyd.8}
DEB_MAINTAINER=${DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>')}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$work/src stage=$work/stage

# A clone shares the objects (--shared) and has a .git directory, which the
# go command needs to stamp the version (it does not in a git worktree).
git clone -q --shared --no-checkout "$ROOT" "$src"
git -C "$src" checkout -q "$(git rev-parse HEAD)"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "build-deb: note: uncommitted changes are not packaged; the package is HEAD, $(git rev-parse --short HEAD)" >&2
fi

install -d -m 0755 "$stage/DEBIAN" "$stage/usr/sbin" "$stage/lib/systemd/system" "$stage/etc/entropyd" \
	"$stage/usr/share/doc/entropyd" "$stage/usr/share/man/man8"
(cd "$src" && CGO_ENABLED=1 "$GO" build -buildvcs=true -trimpath -buildmode=pie -ldflags='-s -w' \
	-o "$stage/usr/sbin/entropyd" ./cmd/entropyd)
chmod 0755 "$stage/usr/sbin/entropyd"

goversion=$("$stage/usr/sbin/entropyd" version | awk '{ print $2 }')
case "$goversion" in
v[0-9]*) ;;
*) echo "build-deb: the binary's version is \"$goversion\", not a module version: not stamped" >&2; exit 1 ;;
esac
# v1.2.3 -> 1.2.3; v0.0.0-20261206203753-9d34c6a5e8f1 -> 0.0.0~20261206203753.9d34c6a5e8f1;
# v1.2.4-0.2026...-abc -> 1.2.4~0.2026....abc (a pre-release sorts first).
version=$(echo "${goversion#v}" | sed -e 's/-/~/' -e 's/-/./g')
arch=$(dpkg --print-architecture)

# The unit: installed paths, and the system user with the one capability
# RNDADDENTROPY needs (in place of the root the contrib unit runs as).
sed -e 's|/usr/local/sbin/entropyd|/usr/sbin/entropyd|g' \
	-e 's|^AmbientCapabilities=$|User=entropyd\nGroup=entropyd\nAmbientCapabilities=CAP_SYS_ADMIN|' \
	"$src/contrib/systemd/entropyd.service" >"$stage/lib/systemd/system/entropyd.service"
for want in '^ExecStart=/usr/sbin/entropyd ' '^User=entropyd$' '^AmbientCapabilities=CAP_SYS_ADMIN$' '^CapabilityBoundingSet=CAP_SYS_ADMIN$'; do
	grep -q "$want" "$stage/lib/systemd/system/entropyd.service" ||
		{ echo "build-deb: the packaged unit lacks $want: contrib/systemd/entropyd.service changed" >&2; exit 1; }
done
chmod 0644 "$stage/lib/systemd/system/entropyd.service"

install -m 0644 "$src/contrib/entropyd.conf" "$stage/etc/entropyd/entropyd.conf"
echo /etc/entropyd/entropyd.conf >"$stage/DEBIAN/conffiles"

install -m 0644 "$src/contrib/debian/copyright" "$stage/usr/share/doc/entropyd/copyright"
gzip -9n <"$src/docs/operations.md" >"$stage/usr/share/doc/entropyd/operations.md.gz"
{
	printf 'entropyd (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Built from commit %s.\n\n' "$(git -C "$src" rev-parse HEAD)"
	printf ' -- %s  %s\n' "$DEB_MAINTAINER" "$(git -C "$src" log -1 --format=%aD)"
} | gzip -9n >"$stage/usr/share/doc/entropyd/changelog.gz"

case "$MANPAGE" in
/*) man=$MANPAGE ;;
*) man=$src/$MANPAGE ;;
esac
if [ -f "$man" ]; then
	gzip -9n <"$man" >"$stage/usr/share/man/man8/entropyd.8.gz"
	chmod 0644 "$stage/usr/share/man/man8/entropyd.8.gz"
else
	echo "build-deb: note: no man page at $MANPAGE (MANPAGE=...): the package has none" >&2
	rmdir "$stage/usr/share/man/man8" "$stage/usr/share/man" 2>/dev/null || true
fi

for s in postinst prerm postrm; do
	install -m 0755 "$src/contrib/debian/$s" "$stage/DEBIAN/$s"
done
glibc=$(objdump -T "$stage/usr/sbin/entropyd" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$DEB_MAINTAINER|" \
	-e "s|@SIZE@|$(du -sk --exclude=DEBIAN "$stage" | cut -f1)|" -e "s|@LIBC@|libc6 (>= $glibc)|" \
	"$src/contrib/debian/control.in" >"$stage/DEBIAN/control"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

mkdir -p "$OUT"
deb="$OUT/entropyd_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
