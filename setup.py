"""Build of ockam_py's C extension against the system libuv and libcrypto (found by pkg-config)."""

import glob
import shutil
import subprocess
import sys

from setuptools import Extension, setup


def pkg_config(*args: str, lib: str = "libuv", apt: str = "libuv1-dev") -> list[str]:
    if not shutil.which("pkg-config"):
        sys.exit(f"error: pkg-config not found: install it with 'apt-get install pkg-config {apt}'")
    try:
        out = subprocess.run(["pkg-config", *args, lib], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError:
        sys.exit(f"error: {lib} headers not found: install them with 'apt-get install {apt}'")
    return out.stdout.split()


def core_sources() -> list[str]:
    """Every csrc/<layer>/*.c except the Python skin and the C unit tests."""
    skip = ("csrc/tests/", "csrc/python/")
    return sorted(f for f in glob.glob("csrc/*/*.c") if not f.startswith(skip))


# libuv for the loop and sockets, OpenSSL's libcrypto for the secure channel's primitives
cflags = pkg_config("--cflags") + pkg_config("--cflags", lib="libcrypto", apt="libssl-dev")
libs = pkg_config("--libs") + pkg_config("--libs", lib="libcrypto", apt="libssl-dev")

core = Extension(
    "ockam_py._core",
    sources=core_sources() + ["csrc/python/module.c"],
    depends=sorted(glob.glob("csrc/*/*.h")),
    include_dirs=["csrc"] + [f[2:] for f in cflags if f.startswith("-I")],
    libraries=[f[2:] for f in libs if f.startswith("-l")],
    library_dirs=[f[2:] for f in libs if f.startswith("-L")],
    extra_compile_args=["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-O2"]
    + [f for f in cflags if not f.startswith("-I")],
    extra_link_args=["-pthread"],
)

setup(ext_modules=[core])
