/* The dense products of a DP-SGD step over a batch of examples, and the cores there are to spread it over, on row-major doubles (each matrix a pointer and
 * its row stride, in elements). Each is compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 and FMA) and the baseline,
 * and the loader picks the best this CPU runs (an ifunc, target_clones). */
#ifndef CLOISTER_MATRIX_H
#define CLOISTER_MATRIX_H

#include <stddef.h>

/* out[i][j] = Σ_t a[i][t] · b[j][t] for i < n, j < m, t < width: each row of A against each row of B (A·Bᵀ). Each
 * sum is formed the same way for every row (eight lanes, a fixed tree), so it depends on its two rows and the CPU's
 * clone alone, never on the rows beside it. */
void cloister_products_with_rows(size_t n, size_t m, size_t width, const double *a, size_t a_stride,
                                 const double *b, size_t b_stride, double *out, size_t out_stride);

/* out[i][j] = Σ_k a[i][k] · b[k][j] for i < n, j < width, k < inner (A·B). */
void cloister_products_with_columns(size_t n, size_t inner, size_t width, const double *a, size_t a_stride,
                                    const double *b, size_t b_stride, double *out, size_t out_stride);

/* sum[k][t] += Σ_r p[r][k] · q[r][t] for k < rows, t < width, r < n: the outer products p_r ⊗ q_r of n records added
 * to sum (Pᵀ·Q). Exact whenever every product and every partial sum is an integer below 2⁵³, in whatever order and
 * with whatever fusing a clone adds them. */
void cloister_add_outer_products(size_t n, size_t rows, size_t width, const double *p, size_t p_stride,
                                 const double *q, size_t q_stride, double *sum, size_t sum_stride);

/* Σ_i x[i]², formed as `cloister_products_with_rows` forms each sum (the same for a row wherever it is). */
double cloister_squared_norm(const double *x, size_t count);

/* x[i] = trunc(scale · x[i]) in place, each product truncated toward zero, and *squares = Σ_i x[i]² of the results.
 * Returns 0 when some product is not finite or past ±bound (x is left partly written then), else 1. The sum of squares
 * is exact while it is below 2⁵³ and at least 2⁵³ when the exact sum is: every partial sum of non-negative integers
 * below 2⁵³ is exact, in any order, and rounding never takes a sum at or past 2⁵³ back below it. */
int cloister_truncate_scaled(double *x, size_t count, double scale, double bound, double *squares);

/* The CPUs this process may run on (its sched_getaffinity mask), at least 1: sysconf reads /sys, which Landlock
 * closes to an enclave. */
int cloister_available_cpus(void);

#endif
