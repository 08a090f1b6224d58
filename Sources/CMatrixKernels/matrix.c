#define _GNU_SOURCE
#include "cloister_matrix.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sched.h>

/* A test builds each clone alone by defining CLONES empty and naming the instruction set (MatrixKernelTests). */
/* A helper of the clones, inlined into each even unoptimised (a debug build), so that it takes the clone's instruction
 * set: compiled once for the baseline, a helper's sums would be formed unfused where its clone's are fused. */
#define HELPER static inline __attribute__((always_inline))

#ifndef CLONES
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif

/* Each dot product is formed the same way whatever the rows around it: eight partial sums, lane l taking the terms
 * t ≡ l (mod 8) in order, added in a fixed tree, then the last width mod 8 terms in order. No reassociation is allowed,
 * so the compiler vectorises across the eight lanes and cannot regroup them, and a tile of four rows by two shares its
 * loads without changing any sum: a row's result depends on that row, the other operand and the CPU's clone alone,
 * never on its place in a batch. (A batch's records are clipped and put on the grid from these values, and a record's
 * integers must not move when another record joins or leaves the batch.) */
HELPER double finish_lanes(const double lane[8], const double *restrict a, const double *restrict b, size_t t,
                           size_t width) {
    double sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (; t < width; t++) sum += a[t] * b[t];
    return sum;
}

HELPER double dot_in_lanes(const double *restrict a, const double *restrict b, size_t width) {
    double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t t = 0;
    for (; t + 8 <= width; t += 8)
        for (int l = 0; l < 8; l++) lane[l] += a[t + l] * b[t + l];
    return finish_lanes(lane, a, b, t, width);
}

CLONES void cloister_products_with_rows(size_t n, size_t m, size_t width, const double *restrict a, size_t a_stride,
                                        const double *restrict b, size_t b_stride, double *restrict out,
                                        size_t out_stride) {
    const size_t full = width - width % 8;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        size_t j = 0;
        for (; j + 2 <= m; j += 2) {
            double lane[4][2][8] = {{{0}}};
            for (size_t t = 0; t < full; t += 8)
                for (int r = 0; r < 4; r++)
                    for (int c = 0; c < 2; c++)
                        for (int l = 0; l < 8; l++)
                            lane[r][c][l] += a[(i + r) * a_stride + t + l] * b[(j + c) * b_stride + t + l];
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 2; c++)
                    out[(i + r) * out_stride + j + c] =
                        finish_lanes(lane[r][c], a + (i + r) * a_stride, b + (j + c) * b_stride, full, width);
        }
        for (; j < m; j++)
            for (size_t r = 0; r < 4; r++)
                out[(i + r) * out_stride + j] = dot_in_lanes(a + (i + r) * a_stride, b + j * b_stride, width);
    }
    for (; i < n; i++)
        for (size_t j = 0; j < m; j++) out[i * out_stride + j] = dot_in_lanes(a + i * a_stride, b + j * b_stride, width);
}

/* A tile of `rows` rows (8, or 1 for the rows left over) by 32 columns of floats held in registers while t runs over
 * the inner dimension: each step loads 32 of b's floats once for every row and broadcasts one of a's a row. */
#define FLOAT_COLUMNS 32
HELPER void float_tile(size_t rows, size_t inner, size_t j, size_t columns, const float *restrict a, size_t a_stride,
                       const float *restrict b, size_t b_stride, double *restrict out, size_t out_stride) {
    float sums[8][FLOAT_COLUMNS] = {{0}};
    for (size_t t = 0; t < inner; t++) {
        const float *restrict bt = b + t * b_stride + j;
        for (size_t r = 0; r < rows; r++) {
            const float c = a[r * a_stride + t];
            for (size_t l = 0; l < FLOAT_COLUMNS; l++) sums[r][l] += c * bt[l];
        }
    }
    const size_t valid = columns - j < FLOAT_COLUMNS ? columns - j : FLOAT_COLUMNS;
    for (size_t r = 0; r < rows; r++)
        for (size_t l = 0; l < valid; l++) out[r * out_stride + j + l] = sums[r][l];
}

CLONES void cloister_products_float(size_t n, size_t inner, size_t columns, const float *restrict a, size_t a_stride,
                                    const float *restrict b, size_t b_stride, double *restrict out,
                                    size_t out_stride) {
    for (size_t j = 0; j < columns; j += FLOAT_COLUMNS) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8)
            float_tile(8, inner, j, columns, a + i * a_stride, a_stride, b, b_stride, out + i * out_stride, out_stride);
        for (; i < n; i++)
            float_tile(1, inner, j, columns, a + i * a_stride, a_stride, b, b_stride, out + i * out_stride, out_stride);
    }
}

CLONES void cloister_transpose_float(size_t rows, size_t columns, const double *restrict a, size_t a_stride,
                                     float *restrict b, size_t b_stride) {
    /* Row by row of b: its writes in order, and the rows of a it reads from (a line each) stay cached for the next. */
    for (size_t j = 0; j < columns; j++)
        for (size_t i = 0; i < rows; i++) b[j * b_stride + i] = (float)a[i * a_stride + j];
}

CLONES void cloister_products_with_columns(size_t n, size_t inner, size_t width, const double *restrict a,
                                           size_t a_stride, const double *restrict b, size_t b_stride,
                                           double *restrict out, size_t out_stride) {
    for (size_t i = 0; i < n; i++) {
        double *restrict row = out + i * out_stride;
        for (size_t j = 0; j < width; j++) row[j] = 0;
        for (size_t k = 0; k < inner; k++) {
            const double coefficient = a[i * a_stride + k];
            const double *restrict source = b + k * b_stride;
            for (size_t j = 0; j < width; j++) row[j] += coefficient * source[j];
        }
    }
}

/* The sum in tiles of 4 rows (1 for the rows left over) by 32 columns (16 without AVX-512) held in registers while
 * every record adds to them: each tile is read and written once a call, each record's q values once a row tile, and
 * every multiply-add takes two loaded operands at most (a q vector and one p broadcast). Four rows of 32 columns are
 * 16 of AVX-512's 32 vector registers; AVX2's 16 hold four rows of 16 (32 columns there spill, and measured slower). */
#define OUTER_TILE 32
/* Whether this CPU takes tiles of 32 columns (the tests build each width alone by defining it 0 or 1). */
#ifndef OUTER_WIDE
#define OUTER_WIDE                                                                                                     \
    (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&  \
     __builtin_cpu_supports("avx512dq"))
#endif
HELPER void add_outer_tile(size_t n, size_t rows, size_t k, size_t t, size_t columns, const double *restrict p,
                           size_t p_stride, const double *restrict q, size_t q_stride, double *restrict sum,
                           size_t sum_stride) {
    double tile[4][OUTER_TILE];
    for (size_t row = 0; row < rows; row++)
        for (size_t l = 0; l < columns; l++) tile[row][l] = sum[(k + row) * sum_stride + t + l];
    for (size_t r = 0; r < n; r++) {
        const double *restrict qr = q + r * q_stride + t;
        const double *restrict pr = p + r * p_stride + k;
        for (size_t row = 0; row < rows; row++) {
            const double c = pr[row];
            for (size_t l = 0; l < columns; l++) tile[row][l] += c * qr[l];
        }
    }
    for (size_t row = 0; row < rows; row++)
        for (size_t l = 0; l < columns; l++) sum[(k + row) * sum_stride + t + l] = tile[row][l];
}

/* Every tile of `tile` columns (a constant where it is called), then the columns left over. */
HELPER void add_outer_tiles(size_t tile, size_t n, size_t rows, size_t width, const double *restrict p,
                            size_t p_stride, const double *restrict q, size_t q_stride, double *restrict sum,
                            size_t sum_stride) {
    const size_t full = width - width % tile;
    size_t k = 0;
    for (; k + 4 <= rows; k += 4) {
        for (size_t t = 0; t < full; t += tile)
            add_outer_tile(n, 4, k, t, tile, p, p_stride, q, q_stride, sum, sum_stride);
        if (full < width) add_outer_tile(n, 4, k, full, width - full, p, p_stride, q, q_stride, sum, sum_stride);
    }
    for (; k < rows; k++) {
        for (size_t t = 0; t < full; t += tile)
            add_outer_tile(n, 1, k, t, tile, p, p_stride, q, q_stride, sum, sum_stride);
        if (full < width) add_outer_tile(n, 1, k, full, width - full, p, p_stride, q, q_stride, sum, sum_stride);
    }
}

CLONES void cloister_add_outer_products(size_t n, size_t rows, size_t width, const double *restrict p, size_t p_stride,
                                        const double *restrict q, size_t q_stride, double *restrict sum,
                                        size_t sum_stride) {
    if (OUTER_WIDE)
        add_outer_tiles(OUTER_TILE, n, rows, width, p, p_stride, q, q_stride, sum, sum_stride);
    else
        add_outer_tiles(OUTER_TILE / 2, n, rows, width, p, p_stride, q, q_stride, sum, sum_stride);
}

CLONES double cloister_squared_norm(const double *restrict x, size_t count) { return dot_in_lanes(x, x, count); }

CLONES int cloister_truncate_scaled(double *restrict x, size_t count, double scale, double bound, double *squares) {
#pragma clang fp reassociate(on)
    double sum = 0;
    int within = 1;
    for (size_t i = 0; i < count; i++) {
        const double value = trunc(scale * x[i]);
        within &= fabs(value) <= bound; /* false for NaN */
        x[i] = value;
        sum += value * value;
    }
    *squares = sum;
    return within;
}

/* e^y = 2^k·e^r for y ≤ 0, branch-free, as its parts 2^k (`scale`) and e^r − 1 (`rest`): k = round(y/ln 2) by the
 * shifter's rounding (its integer in the low bits of kd), r = y − k·ln 2 in two parts (fdlibm's split of ln 2, so
 * k·ln2_hi is exact), e^r − 1 as r times a Horner sum (accurate near 0, where tanh needs it), and 2^k made in the
 * exponent's bits. Below −708 (and for −∞) both are 0; a NaN makes `rest` NaN (every comparison with it is false). */
HELPER void exp_parts(double y, double *scale, double *rest) {
    const double shifter = 0x1.8p52;
    const double clamped = y < -708.0 ? -708.0 : y;
    const double kd = clamped * 0x1.71547652b82fep0 + shifter;
    const double k = kd - shifter;
    const double r = (clamped - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    uint64_t bits;
    memcpy(&bits, &kd, sizeof bits);
    const uint64_t scale_bits = (bits - 0x4338000000000000ULL + 1023) << 52;
    double power;
    memcpy(&power, &scale_bits, sizeof power);
    *scale = y < -708.0 ? 0.0 : power;
    *rest = y < -708.0 ? 0.0 : p * r;
}

CLONES void cloister_tanh(double *restrict x, size_t count) {
    for (size_t i = 0; i < count; i++) {
        double scale, rest;
        exp_parts(-2.0 * fabs(x[i]), &scale, &rest);
        const double m = scale * rest + (scale - 1.0); /* e^(−2|x|) − 1 */
        x[i] = copysign(-m / (2.0 + m), x[i]);
    }
}

CLONES void cloister_softmax(double *restrict x, size_t count) {
    double largest = -INFINITY;
    for (size_t i = 0; i < count; i++) largest = x[i] > largest ? x[i] : largest;
    for (size_t i = 0; i < count; i++) {
        double scale, rest;
        exp_parts(x[i] - largest, &scale, &rest);
        x[i] = scale * rest + scale;
    }
    double total = 0; /* in order, apart from the exponentials, which then vectorise */
    for (size_t i = 0; i < count; i++) total += x[i];
    for (size_t i = 0; i < count; i++) x[i] /= total;
}
CLONES void cloister_coarse_units(const double *restrict fine, size_t count, unsigned fine_bits,
                                  int64_t *restrict units) {
    const uint64_t half = fine_bits > 0 ? UINT64_C(1) << (fine_bits - 1) : 0;
    for (size_t i = 0; i < count; i++) {
        const int64_t sum = (int64_t)fine[i];
        const uint64_t magnitude = ((uint64_t)(sum < 0 ? -sum : sum) + half) >> fine_bits;
        units[i] = sum < 0 ? -(int64_t)magnitude : (int64_t)magnitude;
    }
}

CLONES int cloister_momentum_step(size_t count, const int64_t *restrict units, const int64_t *restrict noise,
                                  double step, double batch, double momentum, double rate, double *restrict velocity,
                                  double *restrict parameters) {
#pragma clang fp contract(off)
    uint64_t overflow = 0;
    for (size_t i = 0; i < count; i++) {
        const uint64_t total = (uint64_t)units[i] + (uint64_t)noise[i];
        /* Two's complement overflow: both operands' signs differ from the total's. */
        overflow |= ((uint64_t)units[i] ^ total) & ((uint64_t)noise[i] ^ total);
        const double released = (double)(int64_t)total * step;
        velocity[i] = momentum * velocity[i] + released / batch;
        parameters[i] -= rate * velocity[i];
    }
    return overflow >> 63 == 0;
}

CLONES void cloister_difference(const double *restrict row, const double *restrict centre, size_t count,
                                double *restrict out) {
    for (size_t i = 0; i < count; i++) out[i] = row[i] - centre[i];
}

CLONES void cloister_narrow(const double *restrict x, size_t count, float *restrict out) {
    for (size_t i = 0; i < count; i++) out[i] = (float)x[i];
}

int cloister_available_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    int count = CPU_COUNT(&set);
    return count > 0 ? count : 1;
}
