#define _GNU_SOURCE
#include "cloister_matrix.h"

#include <math.h>
#include <sched.h>

/* A test builds each clone alone by defining CLONES empty and naming the instruction set (MatrixKernelTests). */
#ifndef CLONES
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif

/* Each dot product is formed the same way whatever the rows around it: eight partial sums, lane l taking the terms
 * t ≡ l (mod 8) in order, added in a fixed tree, then the last width mod 8 terms in order. No reassociation is allowed,
 * so the compiler vectorises across the eight lanes and cannot regroup them, and a tile of four rows by two shares its
 * loads without changing any sum: a row's result depends on that row, the other operand and the CPU's clone alone,
 * never on its place in a batch. (A batch's records are clipped and put on the grid from these values, and a record's
 * integers must not move when another record joins or leaves the batch.) */
static inline double finish_lanes(const double lane[8], const double *restrict a, const double *restrict b, size_t t,
                                  size_t width) {
    double sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (; t < width; t++) sum += a[t] * b[t];
    return sum;
}

static inline double dot_in_lanes(const double *restrict a, const double *restrict b, size_t width) {
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

/* Groups of four records: within a group, tiles of four rows of the sum, so that each of the records' q rows is
 * loaded once for four rows and each row of the sum once for four records. A group whose p values for a row are all
 * zero (refused records, zero errors) skips that row. */
CLONES void cloister_add_outer_products(size_t n, size_t rows, size_t width, const double *restrict p, size_t p_stride,
                                        const double *restrict q, size_t q_stride, double *restrict sum,
                                        size_t sum_stride) {
    size_t r = 0;
    for (; r + 4 <= n; r += 4) {
        const double *q0 = q + r * q_stride, *q1 = q0 + q_stride, *q2 = q1 + q_stride, *q3 = q2 + q_stride;
        const double *pr = p + r * p_stride;
        size_t k = 0;
        for (; k + 4 <= rows; k += 4) {
            double c[4][4];
            for (int row = 0; row < 4; row++)
                for (int record = 0; record < 4; record++) c[row][record] = pr[record * p_stride + k + row];
            double *restrict s0 = sum + k * sum_stride, *restrict s1 = s0 + sum_stride;
            double *restrict s2 = s1 + sum_stride, *restrict s3 = s2 + sum_stride;
            for (size_t t = 0; t < width; t++) {
                const double x0 = q0[t], x1 = q1[t], x2 = q2[t], x3 = q3[t];
                s0[t] += c[0][0] * x0 + c[0][1] * x1 + c[0][2] * x2 + c[0][3] * x3;
                s1[t] += c[1][0] * x0 + c[1][1] * x1 + c[1][2] * x2 + c[1][3] * x3;
                s2[t] += c[2][0] * x0 + c[2][1] * x1 + c[2][2] * x2 + c[2][3] * x3;
                s3[t] += c[3][0] * x0 + c[3][1] * x1 + c[3][2] * x2 + c[3][3] * x3;
            }
        }
        for (; k < rows; k++) {
            const double c0 = pr[k], c1 = pr[p_stride + k], c2 = pr[2 * p_stride + k], c3 = pr[3 * p_stride + k];
            if (c0 == 0 && c1 == 0 && c2 == 0 && c3 == 0) continue;
            double *restrict s = sum + k * sum_stride;
            for (size_t t = 0; t < width; t++) s[t] += c0 * q0[t] + c1 * q1[t] + c2 * q2[t] + c3 * q3[t];
        }
    }
    for (; r < n; r++) {
        const double *q0 = q + r * q_stride;
        for (size_t k = 0; k < rows; k++) {
            const double c0 = p[r * p_stride + k];
            if (c0 == 0) continue;
            double *restrict s = sum + k * sum_stride;
            for (size_t t = 0; t < width; t++) s[t] += c0 * q0[t];
        }
    }
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


int cloister_available_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    int count = CPU_COUNT(&set);
    return count > 0 ? count : 1;
}
