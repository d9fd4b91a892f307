"""What scripts/setup.sh installs runs on any x86-64 CPU with AVX2, not only on the machine that compiled it.

llama.cpp compiles for the building CPU by default, and pip's wheel cache ignores the CPU: a wheel compiled on a machine
with AVX-512 died of SIGILL (exit 132) at the first decode on a machine without it (2026-12-01)."""

import importlib.util
import pathlib
import platform
import re
import shutil
import subprocess

import pytest

# Mnemonics and operands beyond AVX2: AVX-512 registers, masks and broadcasts, VNNI dot products (AVX-512 or AVX-VNNI),
# BF16 and AMX.
BEYOND_AVX2 = re.compile(r"zmm|%k[0-7]\b|\{1to\d|vpdpbusd|vpdpwssd|vdpbf16ps|vcvtneps2bf16|tileload|tdpb")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the instruction check reads x86-64 code")
def test_the_installed_llama_cpp_uses_no_instruction_beyond_avx2():
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils, which comes with gcc) is needed to read the compiled llama.cpp"
    spec = importlib.util.find_spec("llama_cpp")
    libs = sorted(pathlib.Path(spec.origin).parent.glob("lib/lib*.so"))
    assert any(lib.name == "libggml-cpu.so" for lib in libs), libs
    for lib in libs:
        code = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(lib)], capture_output=True, text=True,
                              check=True).stdout
        found = sorted({m.group(0) for m in BEYOND_AVX2.finditer(code)})
        assert not found, f"{lib.name} was compiled for the building CPU: {found[:8]}"
