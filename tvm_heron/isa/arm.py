"""The aarch64 instruction sets: NEON with the dot product, with and without i8mm.

These are built and checked by cross-compilation (an aarch64 ``mtriple``,
assembly or object output); nothing here can run on the x86 machines this
project is tested on. Latencies and ports are Arm Neoverse N2's.
"""

from __future__ import annotations

from .model import InstructionSet, Intrinsic, MacUnit, WeightOrder

_INT8 = ("uint8", "int8", "int32")

USDOT = Intrinsic(
    name="heron_dot_4x4_u8s8s32_usdot",
    dtype="int8", lanes=4, depth=4, operands=_INT8, weight_order=WeightOrder.LANES_MAJOR,
    instruction="usdot", register="v",
    mac=MacUnit(latency=3, ports=2, reference="Arm Neoverse N2"),
    operand_registers=8,
    sequence="dup (4 activation bytes); usdot v.4s (u8 x s8, i8mm)",
)
SDOT_OFFSET = Intrinsic(
    name="heron_dot_4x4_u8s8s32_sdot",
    dtype="int8", lanes=4, depth=4, operands=_INT8, weight_order=WeightOrder.LANES_MAJOR,
    instruction="sdot", register="v",
    mac=MacUnit(latency=3, ports=2, reference="Arm Neoverse N2"),
    operand_registers=10,
    sequence="sdot of (a - 128) x b, plus 128 x sdot of ones x b: u8 x s8 exactly "
    "with the s8 x s8 dot product (2 sdot per call)",
)
FMLA = Intrinsic(
    name="heron_fma_4x4_f32_neon",
    dtype="float32", lanes=4, depth=4, operands=("float32", "float32", "float32"),
    weight_order=WeightOrder.DEPTH_MAJOR, instruction="fmla", register="v",
    mac=MacUnit(latency=4, ports=2, reference="Arm Neoverse N2"),
    operand_registers=8,
    sequence="4 x fmla v.4s",
)

NEON_I8MM = InstructionSet(
    name="neon_i8mm",
    title="NEON + dot product + i8mm (usdot)",
    arch="aarch64",
    features=("neon", "dotprod", "i8mm"),
    vector_bits=128,
    vector_registers=32,
    intrinsics=(USDOT, FMLA),
    example_cpu="aarch64-linux-gnu +neon,+dotprod,+i8mm",
)
NEON_DOT = InstructionSet(
    name="neon_dot",
    title="NEON + dot product (sdot)",
    arch="aarch64",
    features=("neon", "dotprod"),
    vector_bits=128,
    vector_registers=32,
    intrinsics=(SDOT_OFFSET, FMLA),
    example_cpu="aarch64-linux-gnu +neon,+dotprod",
)

#: Best first.
AARCH64 = (NEON_I8MM, NEON_DOT)
