"""The x86-64 instruction sets: AVX2, AVX-VNNI, AVX-512 and AVX-512 VNNI.

Latencies and ports are those of the reference core named in each
:class:`~.model.MacUnit` (uops.info figures); they set how many independent
accumulators a register tile keeps, a lower bound the space relaxes when a
shape cannot reach it. ``operand_registers`` is what a register tile leaves
to operands and temporaries: 8 of the 32 zmm registers for the AVX-512 forms
(the budget the AVX-512 spaces were tuned with), more for the AVX2 int8 forms,
whose widening or splitting needs scratch registers.
"""

from __future__ import annotations

from .model import InputRange, InstructionSet, Intrinsic, MacUnit, WeightOrder

_INT8 = ("uint8", "int8", "int32")
_FP32 = ("float32", "float32", "float32")

VNNI_512 = Intrinsic(
    name="heron_dot_16x4_u8s8s32_vnni",
    dtype="int8", lanes=16, depth=4, operands=_INT8, weight_order=WeightOrder.LANES_MAJOR,
    instruction="vpdpbusd", register="zmm",
    mac=MacUnit(latency=4, ports=1, reference="AMD Zen 4"),
    operand_registers=8,
    sequence="vpbroadcastd (4 activation bytes); vpdpbusd zmm",
)
FMA_512 = Intrinsic(
    name="heron_fma_16x4_f32_avx512",
    dtype="float32", lanes=16, depth=4, operands=_FP32, weight_order=WeightOrder.DEPTH_MAJOR,
    instruction="vfmadd", register="zmm",
    mac=MacUnit(latency=4, ports=1, reference="AMD Zen 4"),
    operand_registers=8,
    sequence="4 x (vbroadcastss; vfmadd231ps zmm)",
)
VNNI_256 = Intrinsic(
    name="heron_dot_8x4_u8s8s32_avxvnni",
    dtype="int8", lanes=8, depth=4, operands=_INT8, weight_order=WeightOrder.LANES_MAJOR,
    instruction="vpdpbusd", register="ymm",
    mac=MacUnit(latency=5, ports=2, reference="Intel Golden Cove (Alder Lake P-core)"),
    operand_registers=4,
    sequence="vpbroadcastd; {vex} vpdpbusd ymm",
)
FMA_256 = Intrinsic(
    name="heron_fma_8x4_f32_avx2",
    dtype="float32", lanes=8, depth=4, operands=_FP32, weight_order=WeightOrder.DEPTH_MAJOR,
    instruction="vfmadd", register="ymm",
    mac=MacUnit(latency=4, ports=2, reference="AMD Zen 3"),
    operand_registers=4,
    sequence="4 x (vbroadcastss; vfmadd231ps ymm)",
)
AVX2_EXACT = Intrinsic(
    name="heron_dot_8x4_u8s8s32_avx2",
    dtype="int8", lanes=8, depth=4, operands=_INT8, weight_order=WeightOrder.LANES_MAJOR,
    instruction="vpmaddubsw", register="ymm",
    mac=MacUnit(latency=1, ports=2, reference="AMD Zen 3 (vpaddd)"),
    operand_registers=6,
    sequence="activations split into 7 low bits and the top bit; 2 x vpmaddubsw (neither "
    "saturates), 2 x vpmaddwd (with 1 and 128), 2 x vpaddd: exact for every input",
)
AVX2_U7 = Intrinsic(
    name="heron_dot_8x4_u7s8s32_avx2",
    dtype="int8", lanes=8, depth=4, operands=_INT8, weight_order=WeightOrder.LANES_MAJOR,
    instruction="vpmaddubsw", register="ymm",
    mac=MacUnit(latency=1, ports=2, reference="AMD Zen 3 (vpaddd)"),
    operand_registers=4,
    input_range=InputRange.U7,
    sequence="vpmaddubsw (saturating 16-bit pair sums: exact for activations < 128), "
    "vpmaddwd with ones, vpaddd",
)

AVX512_VNNI = InstructionSet(
    name="avx512_vnni",
    title="AVX-512 VNNI, DL Boost",
    arch="x86_64",
    features=("avx512f", "avx512bw", "avx512vnni"),
    vector_bits=512,
    vector_registers=32,
    intrinsics=(VNNI_512, FMA_512),
    example_cpu="cascadelake",
    onednn_isa="avx512_core_vnni",
    aten_capability="avx512",
)
AVX_VNNI = InstructionSet(
    name="avx_vnni",
    title="AVX-VNNI (256-bit VEX vpdpbusd)",
    arch="x86_64",
    features=("avx2", "fma", "avxvnni"),
    vector_bits=256,
    vector_registers=16,
    intrinsics=(VNNI_256, FMA_256),
    example_cpu="alderlake",
    onednn_isa="avx2_vnni",
    aten_capability="avx2",
    fbgemm_isa="AVX2",
)
AVX512 = InstructionSet(
    name="avx512",
    title="AVX-512 without VNNI",
    arch="x86_64",
    features=("avx512f", "avx512bw", "avx512vl"),
    vector_bits=512,
    vector_registers=32,
    intrinsics=(AVX2_EXACT, AVX2_U7, FMA_512),
    example_cpu="skylake-avx512",
    onednn_isa="avx512_core",
    aten_capability="avx512",
    fbgemm_isa="AVX512",
)
AVX2 = InstructionSet(
    name="avx2",
    title="AVX2 + FMA",
    arch="x86_64",
    features=("avx2", "fma"),
    vector_bits=256,
    vector_registers=16,
    intrinsics=(AVX2_EXACT, AVX2_U7, FMA_256),
    example_cpu="znver3",
    onednn_isa="avx2",
    aten_capability="avx2",
    fbgemm_isa="AVX2",
)

#: Best first: a target gets the first whose features it has.
X86 = (AVX512_VNNI, AVX_VNNI, AVX512, AVX2)
