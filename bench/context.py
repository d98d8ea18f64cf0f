"""What a section is given: where DynamoDB Local listens and how big to go."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


@dataclass
class Sizes:
    """Every knob of a run; `quick()` and `full()` are the two presets, flags override single fields."""

    records: list[int] = field(default_factory=lambda: [1_000, 10_000, 100_000])  # scaling
    warmup: int = 10  # unmeasured checks before each measured series
    scaling_checks: int = 200  # numberguard checks per size (new recipients)
    naive_checks: int = 40  # naive checks per size, fewer at 100K (each reads the whole window)
    kind_checks: int = 30  # repeats and service-window replies per size
    threads: list[int] = field(default_factory=lambda: [1, 4, 16])
    throughput_checks: int = 2_000  # per thread count
    raw_updates: int = 3_000  # per thread count
    batch: int = 1_000
    webhook_updates: int = 1_000
    webhook_posts: int = 200  # the realistic mix: POSTs timed one by one
    import_runs: int = 15  # fresh interpreters per module
    numbers: int = 10_000  # evaluator
    due: int = 100
    sync_wabas: int = 10  # meta_sync: WABAs the Meta double serves
    sync_numbers: int = 100  # meta_sync: numbers per WABA
    sync_templates: int = 20  # meta_sync: templates per WABA

    @classmethod
    def quick(cls) -> Sizes:
        return cls(records=[1_000, 10_000], scaling_checks=60, naive_checks=15, kind_checks=10,
                   throughput_checks=400, raw_updates=600, webhook_posts=60, import_runs=5,
                   numbers=2_000, due=100)

    @classmethod
    def full(cls) -> Sizes:
        return cls()


@dataclass
class Context:
    endpoint: str
    sizes: Sizes
    quick: bool = False
    layer_size_method: str = "pip"  # "pip" (pip install --target) or "venv" (installed distributions)
    verbose: bool = True
    started: float = field(default_factory=time.perf_counter)

    def say(self, message: str) -> None:
        if self.verbose:
            print(f"[{time.perf_counter() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)
