"""What an instruction set offers Heron's CPU space: the types of its descriptions.

An :class:`InstructionSet` is one CPU instruction set as the space sees it:
the LLVM features that select it, its vector registers, and the tensor
intrinsics (:class:`Intrinsic`) it offers per data type, each with its tile
shape, operand types, weight tile, multiply-accumulate latency and issue
ports. The DL Boost rule tensorizes with these intrinsics, the constraint
analysis takes its register and latency limits from them, the packing and
the benchmarks read them. Nothing here imports TVM; the descriptions live in
:mod:`.x86` and :mod:`.arm`, the intrinsics' TensorIR in
:mod:`tvm_heron.intrinsics`.
"""

from __future__ import annotations

import enum
import math

import attrs

#: Workload data types with CPU intrinsics ("int8": u8 activations x s8 weights -> s32).
DTYPES = ("int8", "float32")


class WeightOrder(enum.Enum):
    """How an intrinsic's weight tile lies in memory.

    ``LANES_MAJOR``: ``B[lanes, depth]``, the ``depth`` reduction steps of a
    lane adjacent (int8 dot products: 4 bytes per 32-bit lane), the whole
    tile contiguous. ``DEPTH_MAJOR``: ``B[depth, lanes]``, each reduction
    step's lanes contiguous (fp32 multiply-adds, one vector per step), rows
    any distance apart.
    """

    LANES_MAJOR = "lanes-major"
    DEPTH_MAJOR = "depth-major"


class InputRange(enum.Enum):
    """The int8 operands an intrinsic is exact for (an intrinsic's), or a workload declares (a workload's)."""

    U8 = "u8"  # every uint8 activation and int8 weight
    U7 = "u7"  # activations 0..127 only: 7-bit quantized activations (PyTorch's reduce_range)
    # A workload's only: every u8 activation, weights -64..64 (ONNX Runtime's reduce_range).
    # The 7-bit form's 16-bit pair sums are exact either way.
    W7 = "w7"


@attrs.frozen
class MacUnit:
    """The multiply-accumulate an intrinsic's accumulation waits on.

    Attributes
    ----------
    latency : int
        Cycles from one accumulation to the next on the same register.
    ports : int
        Such instructions issued per cycle.
    reference : str
        The core the figures are taken from (they vary by microarchitecture).
    """

    latency: int
    ports: int
    reference: str

    @property
    def independent_accumulators(self) -> int:
        """Accumulators that keep the unit busy: ``latency x ports``."""
        return self.latency * self.ports


@attrs.frozen
class Intrinsic:
    """One tensor intrinsic: ``C[lanes] += sum_k A[k] * B[lane, k]`` for ``depth`` steps.

    Attributes
    ----------
    name : str
        Name under which it is registered (``TensorIntrin.get``).
    dtype : str
        Workload data type it computes (:data:`DTYPES`).
    lanes, depth : int
        Output lanes and reduction steps of one call.
    operands : tuple of str
        dtypes of the activation, the weight and the accumulator.
    weight_order : WeightOrder
        Layout of the weight tile it reads.
    instruction : str
        Mnemonic of the instruction that does its multiply-adds, as it
        appears in the assembly (``vpdpbusd``, ``vfmadd``...).
    register : str
        Register class of that instruction's operands in the assembly
        (``zmm``, ``ymm``, ``v`` for NEON).
    mac : MacUnit
        Latency and ports of its accumulation.
    operand_registers : int
        Vector registers its operands and temporaries occupy while a
        register tile runs (the rest may hold accumulators).
    input_range : InputRange
        Activations it is exact for.
    sequence : str
        The instructions of one call, for the docs.
    """

    name: str
    dtype: str
    lanes: int
    depth: int
    operands: tuple[str, str, str]
    weight_order: WeightOrder
    instruction: str
    register: str
    mac: MacUnit
    operand_registers: int
    input_range: InputRange = InputRange.U8
    sequence: str = ""

    @property
    def macs(self) -> int:
        """Multiply-adds of one call."""
        return self.lanes * self.depth


@attrs.frozen
class InstructionSet:
    """One CPU instruction set as Heron's CPU space uses it.

    Attributes
    ----------
    name : str
        Short name (``avx2``, ``avx512_vnni``, ``neon_i8mm``...).
    title : str
        Readable name.
    arch : str
        ``x86_64`` or ``aarch64``.
    features : tuple of str
        LLVM features a target must have for this set (``avx512vnni``...).
    vector_bits : int
        Width of a vector register.
    vector_registers : int
        Architectural vector registers.
    intrinsics : tuple of Intrinsic
        What it offers, in order of preference per data type.
    example_cpu : str
        An LLVM CPU name (or triple) with exactly this set, for build-only checks.
    onednn_isa : str or None
        oneDNN's name of the same set (``ONEDNN_MAX_CPU_ISA``): the benchmarks limit
        the vendor library to the instructions tvm-heron's kernels use.
    aten_capability : str or None
        PyTorch's name of the same vector width (``ATEN_CPU_CAPABILITY``).
    fbgemm_isa : str or None
        FBGEMM's (``FBGEMM_ENABLE_INSTRUCTIONS``; it ignores the other two and
        would use VNNI on a CPU that has it). None: not limited.
    """

    name: str
    title: str
    arch: str
    features: tuple[str, ...]
    vector_bits: int
    vector_registers: int
    intrinsics: tuple[Intrinsic, ...]
    example_cpu: str
    onednn_isa: str | None = None
    aten_capability: str | None = None
    fbgemm_isa: str | None = None

    def intrinsics_for(self, dtype: str, input_range: InputRange = InputRange.U8) -> tuple[Intrinsic, ...]:
        """The intrinsics for ``dtype``; U7 intrinsics only where activations or weights are 7-bit."""
        seven_bit = input_range in (InputRange.U7, InputRange.W7)
        allowed = (InputRange.U8, InputRange.U7) if seven_bit else (InputRange.U8,)
        return tuple(i for i in self.intrinsics if i.dtype == dtype and i.input_range in allowed)

    def offers(self, name: str) -> bool:
        """Whether ``name`` is one of this set's intrinsics."""
        return any(i.name == name for i in self.intrinsics)

    def registers_per_accumulator(self, intrinsic: Intrinsic) -> int:
        """Vector registers one accumulator of ``intrinsic`` takes (32-bit lanes)."""
        return max(1, math.ceil(intrinsic.lanes * 32 / self.vector_bits))

    def max_accumulators(self, intrinsic: Intrinsic) -> int:
        """Accumulators a register tile of ``intrinsic`` may hold, counted as intrinsic calls."""
        free = self.vector_registers - intrinsic.operand_registers
        return max(1, free // self.registers_per_accumulator(intrinsic))

    def min_accumulators(self, intrinsic: Intrinsic) -> int:
        """Independent accumulators that hide the multiply-accumulate's latency (capped by the budget)."""
        return min(intrinsic.mac.independent_accumulators, self.max_accumulators(intrinsic))

    def vector_lanes(self, max_lanes: int = 64) -> tuple[int, ...]:
        """Legal lane counts of a vectorised loop: powers of two up to ``max_lanes``.

        LLVM splits a vector longer than a register into several, so lanes
        beyond one register are legal too; the bound keeps unrolled vectors small.
        """
        return tuple(2**p for p in range(max_lanes.bit_length()) if 2**p <= max_lanes)
