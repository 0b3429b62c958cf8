"""Build of ockam_py's C extension against the system libuv (found by pkg-config)."""

import glob
import shutil
import subprocess
import sys

from setuptools import Extension, setup


def pkg_config(*args: str) -> list[str]:
    if not shutil.which("pkg-config"):
        sys.exit("error: pkg-config not found: install it with 'apt-get install pkg-config libuv1-dev'")
    try:
        out = subprocess.run(["pkg-config", *args, "libuv"], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError:
        sys.exit("error: libuv headers not found: install them with 'apt-get install libuv1-dev'")
    return out.stdout.split()


def core_sources() -> list[str]:
    """Every csrc/<layer>/*.c except the Python skin and the C unit tests."""
    skip = ("csrc/tests/", "csrc/python/")
    return sorted(f for f in glob.glob("csrc/*/*.c") if not f.startswith(skip))


cflags = pkg_config("--cflags")
libs = pkg_config("--libs")

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
