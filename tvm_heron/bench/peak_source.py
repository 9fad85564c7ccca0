"""C source of the peak-throughput micro-benchmark (compiled at run time by :mod:`.peak`).

One OpenMP thread per core runs 12 independent accumulator chains of the
widest int8 dot product (``vpdpbusd``: 64 u8 x s8 multiply-adds = 128 ops per
512-bit instruction) and fp32 FMA (16 lanes x 2 = 32 flops) that the
compiler's ``-march=native`` allows, in a loop of at least 0.1 s. The
accumulators are 12 named variables (in an array, GCC copies every register
once per iteration and the loop becomes front-end bound). Each run is timed
from a common start, all threads past a barrier, to the last thread's end;
the best of 5 runs is the machine's figure. The program prints
``threads <n>``, then ``<kind> <isa> <ops per second>`` or
``<kind> none <reason>`` for ``int8`` and ``float32``.
"""

SOURCE = r"""/* Peak throughput micro-benchmark of tvm_heron.bench.peak. */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define ACC 12
#define REPS 5
#define MIN_SECONDS 0.1
#define EACH_ACC(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

#if defined(__AVX512F__) && defined(__AVX512VNNI__)
#define I8_ISA "avx512_vnni"
#define I8_OPS_PER_INSTR 128.0 /* 64 u8 x s8 products, 2 ops each */
typedef __m512i ivec;
#define I8_SET1(x) _mm512_set1_epi32(x)
#define I8_STEP(acc, a, b) acc = _mm512_dpbusd_epi32(acc, a, b)
#define I8_REDUCE(v) ((long long)_mm512_reduce_add_epi32(v))
#elif defined(__AVXVNNI__)
#define I8_ISA "avx_vnni"
#define I8_OPS_PER_INSTR 64.0
typedef __m256i ivec;
#define I8_SET1(x) _mm256_set1_epi32(x)
#define I8_STEP(acc, a, b) acc = _mm256_dpbusd_avx_epi32(acc, a, b)
#define I8_REDUCE(v) ((long long)_mm256_extract_epi32(v, 0))
#endif

#if defined(__AVX512F__)
#define F32_ISA "avx512f"
#define F32_OPS_PER_INSTR 32.0 /* 16 lanes, multiply + add */
typedef __m512 fvec;
#define F32_SET1(x) _mm512_set1_ps(x)
#define F32_STEP(acc, a, b) acc = _mm512_fmadd_ps(acc, a, b)
#define F32_REDUCE(v) ((double)_mm512_reduce_add_ps(v))
#elif defined(__FMA__) && defined(__AVX__)
#define F32_ISA "avx2_fma"
#define F32_OPS_PER_INSTR 16.0
typedef __m256 fvec;
#define F32_SET1(x) _mm256_set1_ps(x)
#define F32_STEP(acc, a, b) acc = _mm256_fmadd_ps(acc, a, b)
#define F32_REDUCE(v) ((double)_mm256_cvtss_f32(v))
#endif

static volatile double sink;

/* Wall time from a common start (every thread past a barrier) to the last thread's
 * end: threads that cannot run at the same time (another process holds a core)
 * lengthen it, instead of each timing only its own share. */
#define TIMED_START                \
    _Pragma("omp barrier")         \
    _Pragma("omp master")          \
    start = omp_get_wtime();       \
    _Pragma("omp barrier")
#define TIMED_END                  \
    _Pragma("omp barrier")         \
    _Pragma("omp master")          \
    end = omp_get_wtime();

#ifdef I8_ISA
/* Wall seconds of `iters` iterations of ACC instructions on every thread. */
static double run_int8(long iters) {
    double start = 0.0, end = 0.0;
    long long total = 0;
#pragma omp parallel reduction(+ : total)
    {
        int seed = omp_get_thread_num() + 1;
        ivec a = I8_SET1(0x01010101 * seed), b = I8_SET1(0x01020304);
#define DECLARE(i) ivec acc##i = I8_SET1(i + seed);
#define STEP(i) I8_STEP(acc##i, a, b);
#define REDUCE(i) total += I8_REDUCE(acc##i);
        EACH_ACC(DECLARE)
        TIMED_START
        for (long it = 0; it < iters; it++) {
            EACH_ACC(STEP)
        }
        TIMED_END
        EACH_ACC(REDUCE)
#undef DECLARE
#undef STEP
#undef REDUCE
    }
    sink = (double)total;
    return end - start;
}
#endif

#ifdef F32_ISA
static double run_fp32(long iters) {
    double start = 0.0, end = 0.0;
    double total = 0.0;
#pragma omp parallel reduction(+ : total)
    {
        float seed = (float)(omp_get_thread_num() + 1);
        fvec a = F32_SET1(0.999999f), b = F32_SET1(1e-7f * seed);
#define DECLARE(i) fvec acc##i = F32_SET1((float)(i) * seed);
#define STEP(i) F32_STEP(acc##i, a, b);
#define REDUCE(i) total += F32_REDUCE(acc##i);
        EACH_ACC(DECLARE)
        TIMED_START
        for (long it = 0; it < iters; it++) {
            EACH_ACC(STEP)
        }
        TIMED_END
        EACH_ACC(REDUCE)
#undef DECLARE
#undef STEP
#undef REDUCE
    }
    sink = total;
    return end - start;
}
#endif

/* Best rate (ops/s over all threads) of REPS runs of at least MIN_SECONDS. */
static double best_rate(double (*run)(long), double ops_per_instr, int threads) {
    long iters = 1 << 16;
    while (run(iters) < MIN_SECONDS && iters < (1L << 40)) iters *= 2;
    double best = 0.0;
    for (int r = 0; r < REPS; r++) {
        double rate = (double)threads * (double)iters * ACC * ops_per_instr / run(iters);
        if (rate > best) best = rate;
    }
    return best;
}

int main(void) {
    int threads = omp_get_max_threads();
    printf("threads %d\n", threads);
#ifdef I8_ISA
    printf("int8 %s %.6e\n", I8_ISA, best_rate(run_int8, I8_OPS_PER_INSTR, threads));
#else
    printf("int8 none the compiler's -march=native has neither AVX-512 VNNI nor AVX-VNNI\n");
#endif
#ifdef F32_ISA
    printf("float32 %s %.6e\n", F32_ISA, best_rate(run_fp32, F32_OPS_PER_INSTR, threads));
#else
    printf("float32 none the compiler's -march=native has no FMA\n");
#endif
    return 0;
}
"""
