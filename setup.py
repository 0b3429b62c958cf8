"""Build of ockam_py's C extension against the system's C libraries in PKG_CONFIG (found by pkg-config).

A wheel for other machines is made by scripts/wheels.sh: auditwheel copies these
libraries into it. The extension uses the limited C API of CPython 3.9, so one
abi3 wheel serves CPython 3.9 and every later version.
"""

import glob
import shutil
import subprocess
import sys

from setuptools import Extension, setup

# The C libraries the extension links: pkg-config name -> the Debian package that has it.
PKG_CONFIG = {
    "libuv": "libuv1-dev",  # the loop and sockets
    "libcrypto": "libssl-dev",  # OpenSSL: the secure channel's primitives
}
LIMITED_API = "0x03090000"  # Py_LIMITED_API: CPython 3.9


def pkg_config(pkg: str, *args: str) -> list[str]:
    dev = PKG_CONFIG.get(pkg, pkg)
    if not shutil.which("pkg-config"):
        sys.exit(f"error: pkg-config not found: install it with 'apt-get install pkg-config {dev}'")
    try:
        out = subprocess.run(["pkg-config", *args, pkg], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError:
        sys.exit(f"error: {pkg} headers not found: install them with 'apt-get install {dev}'")
    return out.stdout.split()


def unique(flags: list[str]) -> list[str]:
    return list(dict.fromkeys(flags))


def core_sources() -> list[str]:
    """Every csrc/<layer>/*.c except the Python skin and the C unit tests."""
    skip = ("csrc/tests/", "csrc/python/")
    return sorted(f for f in glob.glob("csrc/*/*.c") if not f.startswith(skip))


cflags = unique([f for pkg in PKG_CONFIG for f in pkg_config(pkg, "--cflags")])
libs = unique([f for pkg in PKG_CONFIG for f in pkg_config(pkg, "--libs")])

core = Extension(
    "ockam_py._core",
    sources=core_sources() + sorted(glob.glob("csrc/python/*.c")),
    depends=sorted(glob.glob("csrc/*/*.h")),
    include_dirs=["csrc"] + [f[2:] for f in cflags if f.startswith("-I")],
    libraries=[f[2:] for f in libs if f.startswith("-l")],
    library_dirs=[f[2:] for f in libs if f.startswith("-L")],
    define_macros=[("Py_LIMITED_API", LIMITED_API)],
    py_limited_api=True,
    extra_compile_args=["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-O2"]
    + [f for f in cflags if not f.startswith("-I")],
    extra_link_args=["-pthread"],
)

setup(ext_modules=[core], options={"bdist_wheel": {"py_limited_api": "cp39"}})
