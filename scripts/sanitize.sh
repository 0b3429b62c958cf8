#!/usr/bin/env bash
# Sanitizer builds of ockam_py: the C unit tests and the whole pytest suite
# against an extension built with clang and a sanitizer, in a copy of the
# repository under a temporary directory (the normal build is not touched).
#
#   scripts/sanitize.sh [asan] [PYTEST ARGS...]   ASan+UBSan (the default)
#   scripts/sanitize.sh tsan [PYTEST ARGS...]     ThreadSanitizer
#   e.g. scripts/sanitize.sh asan -x -q tests/test_raw_wire.py
#
# Exits non-zero when the build fails, a test fails, or any process of the run
# (pytest, the node subprocesses the tests start, the C unit tests) wrote a
# sanitizer report: reports go to files through the runtimes' log_path and
# are printed at the end, so a report from a child whose exit status a test
# ignores still fails the run.
#
# Notes
# * Only Python processes get the runtime: pytest runs on a venv whose python
#   is a wrapper, so sys.executable (what the tests start node subprocesses
#   with, also under `ip netns exec`) gets it too, and curl, ip, iptables do
#   not (curl hangs with the ASan runtime preloaded). ASan: the wrapper
#   LD_PRELOADs libclang_rt.asan-x86_64.so. TSan: preloading
#   libclang_rt.tsan-x86_64.so kills every program with clang 14 here (its
#   libstdc++ constructors call TSan's __cxa_atexit before TSan is set up),
#   so the wrapper starts a tiny TSan-linked launcher (Py_BytesMain on the
#   same libpython) that carries the runtime instead.
# * LeakSanitizer is off (detect_leaks=0): CPython does not free everything at
#   exit by design (interned strings, static types, module state), so leak
#   reports from the interpreter would drown any from csrc. Leaks in csrc are
#   covered by the C unit tests below and by fuzz/run.sh, where LSan is on.
# * ASan sets PYTHONMALLOC=malloc so Python objects live in malloc'd blocks
#   that ASan checks (pymalloc arenas would hide overruns into them), and a
#   16 MiB quarantine (SANITIZE_QUARANTINE_MB) instead of 256 MiB: the tests
#   that bound a node's RSS would otherwise measure ASan's quarantine.
# * TSan: CPython is not instrumented, so TSan sees its memory only through
#   interceptors (memcpy, malloc, pthread_*); scripts/tsan.supp lists the
#   uninstrumented third-party code whose reports are noise (libzmq, under the
#   Jupyter kernel of tests/test_notebook.py), and nothing that can match
#   csrc: a report with a csrc frame fails the run. OCKAM_PY_SANITIZER=asan|tsan
#   is exported: latency bounds scale by it through tests/conftest.py's
#   scaled() (ASan 2x, TSan 10x) instead of tests being left out.
#   SANITIZE_DESELECT (space-separated node ids) leaves tests out, for local
#   investigation only.
#
# Environment: SANITIZE_KEEP=1 keeps the temporary copy (its path is printed);
# SANITIZE_CTEST=0 skips the C unit tests; SANITIZE_PYTEST=0 skips pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=asan
case "${1:-}" in
  asan|tsan) MODE=$1; shift ;;
  -h|--help) sed -n '2,45p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
PY=${PYTHON:-python3}
START=$(date +%s)
say() { echo "== sanitize[$MODE]: $* ($(($(date +%s) - START)) s)"; }

# ---- tools ----
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have clang || need+=(clang)
if ! have clang || [ ! -f "$(clang -print-file-name=libclang_rt.asan-x86_64.so)" ]; then need+=(libclang-rt-14-dev); fi
have pkg-config || need+=(pkg-config)
pkg-config --exists libuv 2>/dev/null || need+=(libuv1-dev)
pkg-config --exists libcrypto 2>/dev/null || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
"$PY" -m pytest --version >/dev/null 2>&1 || "$PY" -m pip install -q pytest

if [ "$MODE" = asan ]; then
  SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
  RUNTIME=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
else
  SAN=(-fsanitize=thread)
  RUNTIME=$(clang -print-file-name=libclang_rt.tsan-x86_64.so)
fi
[ -f "$RUNTIME" ] || { echo "sanitize.sh: no $RUNTIME (apt-get install libclang-rt-14-dev)" >&2; exit 1; }
FLAGS=("${SAN[@]}" -fno-omit-frame-pointer -g)

# ---- a copy of the work tree (what git would see, plus untracked files) ----
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ockam_py-$MODE.XXXXXX")
if [ "${SANITIZE_KEEP:-0}" = 1 ]; then
  echo "sanitize.sh: keeping $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi
SRC=$WORK/src
LOGS=$WORK/reports
mkdir -p "$SRC" "$LOGS"
tar -C "$ROOT" -cf - --exclude=./.git --exclude=./build --exclude='*.so' --exclude='*.o' \
  --exclude=__pycache__ --exclude=.pytest_cache --exclude='*.egg-info' . | tar -C "$SRC" -xf -

# clang behind a wrapper that puts its flags last: setup.py's own flags
# (-O2 -Werror) come after CFLAGS, and a warning only clang gives must not stop
# a sanitizer build (the gcc build is where -Werror is enforced).
WRAP=$WORK/clang-san
{
  echo '#!/bin/sh'
  printf 'exec clang "$@"'
  printf ' %q' "${FLAGS[@]}" -O1 -Wno-error
  echo
} >"$WRAP"
chmod +x "$WRAP"

# ---- C unit tests ----
if [ "${SANITIZE_CTEST:-1}" = 1 ] && ls "$SRC"/csrc/tests/*.c >/dev/null 2>&1; then
  say "building the C unit tests"
  # shellcheck disable=SC2046
  "$WRAP" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-string-concatenation -I"$SRC/csrc" $(pkg-config --cflags libuv libcrypto) -o "$WORK/test_core" \
    "$SRC"/csrc/tests/*.c $("$SRC"/scripts/csrc-sources.sh | sed "s@^@$SRC/@") $(pkg-config --libs libuv libcrypto) -pthread
  say "running the C unit tests"
  # leaks are checked here: no interpreter in this process
  ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:log_path=$LOGS/ctest-asan" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$LOGS/ctest-ubsan" \
    TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:log_path=$LOGS/ctest-tsan" \
    "$WORK/test_core" || CTEST_RC=$?
  say "C unit tests exit ${CTEST_RC:-0}"
fi

# ---- the extension ----
say "building the extension"
(
  cd "$SRC"
  CC="$WRAP" CXX="$WRAP" LDSHARED="$WRAP -shared" CFLAGS="${FLAGS[*]}" LDFLAGS="${FLAGS[*]}" \
    "$PY" setup.py -q build_ext --inplace --force >"$WORK/build.log" 2>&1
) || { cat "$WORK/build.log" >&2; echo "sanitize.sh: the $MODE build failed" >&2; exit 1; }
sos=("$SRC"/ockam_py/_core*.so) # a glob, not ls: nothing to fork here
SO=${sos[0]}
[ -f "$SO" ] || { echo "sanitize.sh: the build made no extension" >&2; exit 1; }
if [ "$MODE" = asan ]; then sym=__asan_init; else sym=__tsan_init; fi
nm -D "$SO" | grep "$sym" >/dev/null || { echo "sanitize.sh: $SO is not instrumented ($sym missing)" >&2; exit 1; }

# ---- pytest ----
PYTEST_RC=0
if [ "${SANITIZE_PYTEST:-1}" = 1 ]; then
  # The runtime goes into Python processes only: a venv whose python is a
  # wrapper that preloads it, so sys.executable (what the tests start their
  # node subprocesses with, also under `ip netns exec`) preloads it too, while
  # curl, ip, iptables... do not (curl hangs with the ASan runtime preloaded).
  # A .pth in the venv drops LD_PRELOAD from os.environ once the interpreter
  # runs, so only children started through the wrapper get it. PYTHONPATH puts
  # the copy's package first, whatever a subprocess's cwd.
  if [ "$MODE" = asan ]; then
    export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:quarantine_size_mb=${SANITIZE_QUARANTINE_MB:-16}:log_path=$LOGS/asan"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$LOGS/ubsan"
    export PYTHONMALLOC=malloc
  else
    export TSAN_OPTIONS="suppressions=$ROOT/scripts/tsan.supp:halt_on_error=0:second_deadlock_stack=1:die_after_fork=0:report_signal_unsafe=0:log_path=$LOGS/tsan"
  fi
  VENV=$WORK/venv
  "$PY" -m venv --system-site-packages --without-pip "$VENV"
  REAL=$("$PY" -c 'import os, sys; print(os.path.realpath(sys.executable))')
  if [ "$MODE" = tsan ]; then
    # TSan's shared runtime cannot be preloaded with this toolchain: its
    # libstdc++ dependency runs constructors that call TSan's __cxa_atexit
    # interceptor before TSan is initialised, and every program, /bin/true
    # included, dies with SIGSEGV. So the interpreter is started by a tiny
    # TSan-linked launcher (Py_BytesMain against the same libpython), which
    # carries the runtime statically and exports it to the extension.
    LIBDIR=$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
    PYLIB=$("$PY" -c 'import sysconfig as s; print(s.get_config_var("LDVERSION"))')
    INC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    printf '#include <Python.h>\nint main(int argc, char **argv) { return Py_BytesMain(argc, argv); }\n' >"$WORK/launcher.c"
    clang "${FLAGS[@]}" -O1 -I"$INC" -o "$WORK/python-tsan" "$WORK/launcher.c" -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" \
      "-lpython$PYLIB"
    REAL=$WORK/python-tsan
    PRELOAD_LINE=
  else
    PRELOAD_LINE=$(printf 'export LD_PRELOAD=%q${LD_PRELOAD:+:$LD_PRELOAD}' "$RUNTIME")
  fi
  for exe in "$VENV"/bin/python*; do
    rm -f "$exe"
    printf '#!/bin/bash\n%s\nexec -a "$0" %q "$@"\n' "$PRELOAD_LINE" "$REAL" >"$exe"
    chmod +x "$exe"
  done
  echo 'import os; os.environ.pop("LD_PRELOAD", None)' >"$("$VENV/bin/python3" -c 'import site; print(site.getsitepackages()[0])')/_sanitize_preload.pth"
  # the console script, as `pip install -e .` would make it, on this venv's python
  printf '#!/bin/sh\nexec %q -m ockam_py.cli "$@"\n' "$VENV/bin/python3" >"$VENV/bin/ockam-py"
  chmod +x "$VENV/bin/ockam-py"
  export PATH="$VENV/bin:$PATH"
  export PYTHONPATH="$SRC${PYTHONPATH:+:$PYTHONPATH}"
  PY=$VENV/bin/python3
  where=$(cd /tmp && "$PY" -c 'import os, sys, ockam_py._core as c; assert "LD_PRELOAD" not in os.environ; print(c.__file__)')
  [ "$where" = "$SO" ] || { echo "sanitize.sh: tests would import $where, not $SO" >&2; exit 1; }
  # Latency bounds scale by this (tests/conftest.py: scaled()); TSan slows code 5-15x.
  export OCKAM_PY_SANITIZER=$MODE
  DESELECT=()
  for t in ${SANITIZE_DESELECT-}; do # none by default; for local investigation only
    DESELECT+=(--deselect "$t")
  done
  say "running pytest $*"
  (cd "$SRC" && "$PY" -m pytest -p no:cacheprovider "${DESELECT[@]}" "$@") || PYTEST_RC=$?
  say "pytest exit $PYTEST_RC"
fi

# ---- verdict ----
reports=$(find "$LOGS" -type f -size +0 | sort)
if [ -n "$reports" ]; then
  for f in $reports; do
    echo "----- sanitizer report: $(basename "$f") -----" >&2
    cat "$f" >&2
  done
  echo "sanitize.sh: $(echo "$reports" | wc -l) sanitizer report file(s)" >&2
fi
if [ -n "$reports" ] || [ "${CTEST_RC:-0}" != 0 ] || [ "$PYTEST_RC" != 0 ]; then
  say "FAILED (C unit tests exit ${CTEST_RC:-0}, pytest exit $PYTEST_RC, $(echo -n "$reports" | grep -c . || true) report files)"
  exit 1
fi
say "clean"
