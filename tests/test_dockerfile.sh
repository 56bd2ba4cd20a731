#!/bin/sh
# Checks the Dockerfile against the tree where no Docker daemon runs (CI has
# none): it does not build the image, but each of its stages is checked
# against what it depends on.
#   1. The build stage's COPY lines bring every file CMake needs (a copy of
#      the tree made of those paths only configures) and every file the
#      runtime stage takes from it.
#   2. Every package either stage installs is in this Debian's archive.
#   3. The runtime stage's packages, or the packages they depend on, hold
#      every shared library the built binary links (the sanitizer runtimes
#      of a test build aside), and libwebsockets' libev plugin.
# Usage: test_dockerfile.sh SOURCE_DIR PATH/TO/autoassist
set -u
ROOT=${1:?usage: test_dockerfile.sh SOURCE_DIR PATH/TO/autoassist}
BIN=${2:?usage: test_dockerfile.sh SOURCE_DIR PATH/TO/autoassist}
DF="$ROOT/Dockerfile"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# The lines of stage N (1 = build, 2 = runtime), continuation lines joined.
stage() {
	sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$DF" | awk -v n="$1" '/^FROM /{s++} s==n'
}
# The packages an apt-get install line of stage N names.
packages() {
	stage "$1" | grep 'apt-get install' |
		sed -e 's/.*--no-install-recommends//' -e 's/&&.*//' | tr ' ' '\n' | grep -v '^$'
}

# 1. Configure a tree made of the build stage's COPY sources only.
mkdir -p "$TMP/src"
stage 1 | awk '$1 == "COPY" && $2 !~ /^--/ { for (i = 2; i < NF; i++) print $i }' >"$TMP/copies"
[ -s "$TMP/copies" ] || fail "no COPY lines in the build stage of $DF"
while read -r p; do
	if [ -e "$ROOT/$p" ]; then
		# npm's packages (bench/node_modules: 120 MB) are no build input.
		tar -C "$ROOT" --exclude=node_modules -cf - "$p" | tar -C "$TMP/src" -xf -
	else
		fail "the build stage copies $p, which the tree does not have"
	fi
done <"$TMP/copies"
# The runtime stage takes the build's output and data from the build stage:
# each must be there ("COPY --from=build /src/intents ...").
stage 2 | awk '$1 == "COPY" && $2 ~ /^--from=/ { print $3 }' | sed -e 's|^/src/||' -e 's|/.*||' |
	while read -r p; do
		[ "$p" = build ] || grep -qx "$p" "$TMP/copies" ||
			echo "the runtime stage takes /src/$p, which the build stage never copies"
	done >"$TMP/missing"
while read -r m; do fail "$m"; done <"$TMP/missing"
if cmake -S "$TMP/src" -B "$TMP/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$TMP/cmake.log" 2>&1; then
	echo "ok: the build stage's files configure"
else
	fail "the build stage's files do not configure:"
	sed 's/^/    /' "$TMP/cmake.log" | tail -20 >&2
fi

# 2. The packages exist. Without package lists (apt-get update never ran)
#    there is nothing to ask, and the step says so.
if apt-cache policy libc6 2>/dev/null | grep -q 'Candidate: [0-9]'; then
	# shellcheck disable=SC2046 # one package name a word
	apt-cache policy $(packages 1) $(packages 2) 2>/dev/null |
		awk '/^[^ ]/ { p = $1; sub(/:$/, "", p) } /Candidate: [0-9]/ { print p }' >"$TMP/found"
	for p in $(packages 1) $(packages 2); do
		grep -qx "$p" "$TMP/found" ||
			fail "the Dockerfile installs $p, which this Debian does not have"
	done
	echo "ok: $(packages 1 | wc -l) build and $(packages 2 | wc -l) runtime packages exist"
else
	echo "NOTE: no apt package lists here; the package names were not checked" >&2
fi

# 3. The runtime packages hold the binary's libraries.
packages 2 >"$TMP/allowed"
# shellcheck disable=SC2046
apt-cache depends $(packages 2) 2>/dev/null | awk '$1 == "Depends:" { print $2 }' >>"$TMP/allowed"
ldd "$BIN" | awk '$3 ~ /^\// { print $3 }' >"$TMP/libs"
[ -s "$TMP/libs" ] || fail "ldd finds no libraries in $BIN"
# A test build's sanitizer runtimes, and what only they link, ship in no image.
grep -E '/lib(a|ub|t)san\.so' "$TMP/libs" | while read -r lib; do
	echo "$lib"
	ldd "$lib" | awk '$3 ~ /^\// { print $3 }'
done >"$TMP/sanitizer"
grep -vxF -f "$TMP/sanitizer" "$TMP/libs" >"$TMP/shipped" || true
while read -r lib; do
	pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null)
	pkg=${pkg%%:*}
	if [ -z "$pkg" ]; then
		fail "no package holds $lib"
	elif ! grep -qx "$pkg" "$TMP/allowed"; then
		fail "$lib is in $pkg, which the runtime stage does not install"
	fi
done <"$TMP/shipped"
# libwebsockets loads its libev plugin at run time, which ldd cannot see;
# serve runs on libev unless told otherwise.
grep -qx libwebsockets-evlib-ev "$TMP/allowed" ||
	fail "the runtime stage lacks libwebsockets-evlib-ev, which serve's default --event-loop ev loads"
[ "$fails" -eq 0 ] && echo "ok: the runtime stage holds the $(wc -l <"$TMP/shipped") libraries $BIN links"

echo "test_dockerfile.sh: $fails failed"
[ "$fails" -eq 0 ]
