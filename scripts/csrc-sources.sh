#!/bin/sh
# Prints the C core's source files (every csrc/<layer>/*.c but the Python skin
# and the unit tests), one per line, sorted: the one list the build scripts,
# the C unit tests, the fuzzers and the sanitizer runs link.
cd "$(dirname "$0")/.." && find csrc -mindepth 2 -name '*.c' -not -path 'csrc/tests/*' -not -path 'csrc/python/*' | LC_ALL=C sort
