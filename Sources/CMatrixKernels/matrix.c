#define _GNU_SOURCE
#include "cloister_matrix.h"

#include <math.h>
#include <sched.h>

#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

/* Tiles of four rows of A against two of B: eight sums, each row of A loaded once for two of B. */
CLONES void cloister_products_with_rows(size_t n, size_t m, size_t width, const double *restrict a, size_t a_stride,
                                        const double *restrict b, size_t b_stride, double *restrict out,
                                        size_t out_stride) {
#pragma clang fp reassociate(on)
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const double *a0 = a + i * a_stride, *a1 = a0 + a_stride, *a2 = a1 + a_stride, *a3 = a2 + a_stride;
        double *o0 = out + i * out_stride, *o1 = o0 + out_stride, *o2 = o1 + out_stride, *o3 = o2 + out_stride;
        size_t j = 0;
        for (; j + 2 <= m; j += 2) {
            const double *b0 = b + j * b_stride, *b1 = b0 + b_stride;
            double s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
            for (size_t t = 0; t < width; t++) {
                double x0 = b0[t], x1 = b1[t];
                s00 += a0[t] * x0;
                s01 += a0[t] * x1;
                s10 += a1[t] * x0;
                s11 += a1[t] * x1;
                s20 += a2[t] * x0;
                s21 += a2[t] * x1;
                s30 += a3[t] * x0;
                s31 += a3[t] * x1;
            }
            o0[j] = s00, o0[j + 1] = s01, o1[j] = s10, o1[j + 1] = s11;
            o2[j] = s20, o2[j + 1] = s21, o3[j] = s30, o3[j + 1] = s31;
        }
        for (; j < m; j++) {
            const double *b0 = b + j * b_stride;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (size_t t = 0; t < width; t++) {
                s0 += a0[t] * b0[t];
                s1 += a1[t] * b0[t];
                s2 += a2[t] * b0[t];
                s3 += a3[t] * b0[t];
            }
            o0[j] = s0, o1[j] = s1, o2[j] = s2, o3[j] = s3;
        }
    }
    for (; i < n; i++) {
        const double *a0 = a + i * a_stride;
        for (size_t j = 0; j < m; j++) {
            const double *b0 = b + j * b_stride;
            double s = 0;
            for (size_t t = 0; t < width; t++) s += a0[t] * b0[t];
            out[i * out_stride + j] = s;
        }
    }
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

CLONES double cloister_squared_norm(const double *restrict x, size_t count) {
#pragma clang fp reassociate(on)
    double sum = 0;
    for (size_t i = 0; i < count; i++) sum += x[i] * x[i];
    return sum;
}

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
