"""Run every benchmark script under benchmarks/ (``bench_*.py``), each printing its own table.

``make bench`` calls this; benchmarks never run as part of ``make test``. Pass names to run a subset:
``python benchmarks/run.py bar_store``.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    """Import and run each selected ``bench_*.py`` module's ``main()``."""
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(name in s.stem for name in argv)]
    if not scripts:
        print("no benchmark matched", argv, file=sys.stderr)
        return 2
    for script in scripts:
        spec = importlib.util.spec_from_file_location(script.stem, script)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load {script}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
        spec.loader.exec_module(module)
        print(f"\n== {script.stem} ==")
        started = time.perf_counter()
        module.main()
        print(f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
