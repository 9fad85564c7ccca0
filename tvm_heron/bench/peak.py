"""The machine's int8 and fp32 peak throughput, measured by a compiled micro-benchmark.

:func:`measure_peaks` writes :data:`.peak_source.SOURCE` to a temporary
directory, compiles it with ``cc -O2 -march=native -fopenmp``, runs it with
one OpenMP thread per core and parses its output. Without a compiler, or on a
CPU without the instructions, a figure is None and its reason says why.
:func:`cached_peaks` keeps the result in a JSON file so that a resumed
benchmark run does not measure again. The run is under the noisy-machine
guard (the program is a child process: its CPU time is this process's
children's): it is repeated while other processes load the machine, and the
figures carry the flag.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import attrs

from ..cpuinfo import cpu_model
from .noise import Noise, NoiseGuard
from .peak_source import SOURCE

#: Data types measured, as the benchmark program names them.
KINDS = ("int8", "float32")


@attrs.frozen
class Peaks:
    """Peak throughput of this machine, in giga-operations per second.

    Attributes
    ----------
    threads : int
        Threads the micro-benchmark ran (one per core).
    gops : mapping of str to float or None
        ``{"int8": ..., "float32": ...}``: int8 counts 2 ops per u8 x s8
        multiply-add (a 512-bit ``vpdpbusd`` = 128 ops), fp32 2 flops per FMA
        lane (a 512-bit ``vfmadd`` = 32 flops). None when not measured.
    isa : mapping of str to str or None
        The instruction set each figure used (``avx512_vnni``, ``avx512f``...).
    reasons : mapping of str to str
        Why a figure is None.
    cpu : str
        CPU model the figures belong to (for the cache).
    noise : {"quiet", "noisy", "unknown"}
        Whether other processes loaded the machine during the measurement.
    other_share : float or None
        Their share of the CPU time meanwhile.
    """

    threads: int
    gops: Mapping[str, float | None]
    isa: Mapping[str, str | None]
    reasons: Mapping[str, str] = attrs.field(factory=dict)
    cpu: str = ""
    noise: Noise = "unknown"
    other_share: float | None = None

    def peak(self, dtype: str) -> float | None:
        """Peak GOP/s for a workload data type (``int8`` or ``float32``), or None."""
        return self.gops.get(dtype)

    def to_json(self) -> dict:
        """A JSON-serialisable dict."""
        return {
            "threads": self.threads,
            "gops": dict(self.gops),
            "isa": dict(self.isa),
            "reasons": dict(self.reasons),
            "cpu": self.cpu,
            "noise": self.noise,
            "other_share": self.other_share,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> Peaks:
        """Inverse of :meth:`to_json`."""
        return cls(
            threads=int(data["threads"]),
            gops=dict(data["gops"]),
            isa=dict(data["isa"]),
            reasons=dict(data.get("reasons", {})),
            cpu=str(data.get("cpu", "")),
            noise=data.get("noise", "unknown"),
            other_share=data.get("other_share"),
        )


def unavailable(threads: int, reason: str) -> Peaks:
    """Peaks with no figure, each for ``reason``."""
    return Peaks(
        threads=threads,
        gops={k: None for k in KINDS},
        isa={k: None for k in KINDS},
        reasons={k: reason for k in KINDS},
        cpu=cpu_model(),
    )


def parse_output(text: str, threads: int) -> Peaks:
    """Parse the benchmark program's output (see :mod:`.peak_source`)."""
    gops: dict[str, float | None] = {k: None for k in KINDS}
    isa: dict[str, str | None] = {k: None for k in KINDS}
    reasons: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split(maxsplit=2)
        if len(fields) == 2 and fields[0] == "threads":
            threads = int(fields[1])
        elif len(fields) == 3 and fields[0] in KINDS:
            kind, name, value = fields
            if name == "none":
                reasons[kind] = value
            else:
                isa[kind], gops[kind] = name, float(value) / 1e9
    for kind in KINDS:
        if gops[kind] is None and kind not in reasons:
            reasons[kind] = "the benchmark program printed no figure"
    return Peaks(threads=threads, gops=gops, isa=isa, reasons=reasons, cpu=cpu_model())


def measure_peaks(
    threads: int,
    *,
    compiler: str | None = None,
    timeout_s: float = 300.0,
    noise_threshold: float = 0.1,
    attempts: int = 3,
) -> Peaks:
    """Compile and run the micro-benchmark with ``threads`` OpenMP threads.

    Parameters
    ----------
    threads : int
        One per core of the target (its ``num-cores``).
    compiler : str, optional
        C compiler; defaults to ``$CC`` or ``cc``.
    timeout_s : float
        Limit of the compile and of the run each.
    noise_threshold, attempts : float, int
        The run is repeated (up to ``attempts`` times) while other processes
        use more than ``noise_threshold`` of the CPU time (see :mod:`.noise`).
    """
    if threads < 1:
        raise ValueError(f"threads must be positive, got {threads}")
    compiler = compiler or os.environ.get("CC", "cc")
    if shutil.which(compiler) is None:
        return unavailable(threads, f"no C compiler ({compiler!r} not found)")
    with tempfile.TemporaryDirectory(prefix="heron_peak_") as tmp:
        source, binary = Path(tmp) / "peak.c", Path(tmp) / "peak"
        source.write_text(SOURCE, encoding="utf-8")
        command = [compiler, "-O2", "-march=native", "-fopenmp", str(source), "-o", str(binary)]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.CalledProcessError as err:
            return unavailable(threads, f"{' '.join(command)} failed: {_last_line(err.stderr)}")
        except subprocess.TimeoutExpired:
            return unavailable(threads, f"compiling the benchmark took over {timeout_s} s")
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_DYNAMIC="false",
                   OMP_PROC_BIND="spread")
        # The program runs as a child: its CPU time is the children's, not this process's.
        guard = NoiseGuard(threshold=noise_threshold, max_attempts=attempts,
                           own_clock=_children_cpu_seconds)
        try:
            run = guard.measure(lambda: subprocess.run(
                [str(binary)], check=True, capture_output=True, text=True, timeout=timeout_s,
                env=env))
        except subprocess.CalledProcessError as err:
            return unavailable(threads, f"the benchmark program failed: {_last_line(err.stderr)}")
        except subprocess.TimeoutExpired:
            return unavailable(threads, f"the benchmark program ran over {timeout_s} s")
    peaks = parse_output(run.value.stdout, threads)
    return attrs.evolve(peaks, noise=run.noise, other_share=run.other_share)


def cached_peaks(path: str | Path, threads: int, **kwargs) -> Peaks:
    """The peaks stored in ``path`` if of this CPU and thread count; else measure and store them.

    Peaks measured on a noisy machine are measured again. ``kwargs`` go to
    :func:`measure_peaks`.
    """
    path = Path(path)
    if path.exists():
        try:
            peaks = Peaks.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError):
            peaks = None
        if peaks is not None and peaks.threads == threads and peaks.cpu == cpu_model() \
                and peaks.noise != "noisy":
            return peaks
    peaks = measure_peaks(threads, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(peaks.to_json(), indent=1), encoding="utf-8")
    return peaks


def _children_cpu_seconds() -> float:
    times = os.times()
    return times.children_user + times.children_system


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no message)"
