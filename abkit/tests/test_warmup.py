"""``abkit.warmup()`` compiles every numba kernel that Python code calls."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from numba.core.registry import CPUDispatcher

import abkit

PACKAGE = Path(abkit.__file__).resolve().parent


def kernel_modules() -> list[str]:
    paths = sorted(p for p in PACKAGE.rglob("_kernels.py") if "tests" not in p.parts)
    return [".".join(("abkit", *p.relative_to(PACKAGE).with_suffix("").parts)) for p in paths]


def entry_kernels() -> list[tuple[str, str]]:
    """(module, name) of every kernel that library code outside the kernel modules calls."""
    modules = {name: importlib.import_module(name) for name in kernel_modules()}
    called = set()
    for path in PACKAGE.rglob("*.py"):
        if "tests" in path.parts or path.name == "_kernels.py":
            continue
        text = path.read_text()
        # `from abkit.x import _kernels as k` / `from abkit import _kernels`, then `k.name(` ...
        for module_name in modules:
            package, _, _ = module_name.rpartition(".")
            binding = re.search(rf"from {re.escape(package)} import _kernels(?: as (\w+))?\n", text)
            if binding:
                alias = binding.group(1) or "_kernels"
                called |= {(module_name, name) for name in re.findall(rf"\b{alias}\.(\w+)\(", text)}
    return sorted((m, n) for m, n in called if isinstance(getattr(modules[m], n, None), CPUDispatcher))


def test_the_scan_finds_the_kernels() -> None:
    found = entry_kernels()
    assert {"abkit._kernels", "abkit.bandits._kernels", "abkit.power._kernels"} <= {m for m, _ in found}
    assert ("abkit._kernels", "bootstrap_replicates") in found
    assert ("abkit.bandits._kernels", "choose") in found
    assert ("abkit.power._kernels", "t_sample_size") in found


def test_warmup_compiles_every_kernel_called_from_python() -> None:
    abkit.warmup()
    missing = [f"{m}.{n}" for m, n in entry_kernels()
               if not getattr(importlib.import_module(m), n).signatures]
    assert not missing, f"abkit.warmup() does not reach {missing}"
