/* The dense products of a DP-SGD step over a batch of examples, and the cores there are to spread it over, on row-major doubles (each matrix a pointer and
 * its row stride, in elements). Each is compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 and FMA) and the baseline,
 * and the loader picks the best this CPU runs (an ifunc, target_clones). */
#ifndef CLOISTER_MATRIX_H
#define CLOISTER_MATRIX_H

#include <stddef.h>
#include <stdint.h>

/* out[i][j] = Σ_t a[i][t] · b[j][t] for i < n, j < m, t < width: each row of A against each row of B (A·Bᵀ). Each
 * sum is formed the same way for every row (eight lanes, a fixed tree), so it depends on its two rows and the CPU's
 * clone alone, never on the rows beside it. */
void cloister_products_with_rows(size_t n, size_t m, size_t width, const double *a, size_t a_stride,
                                 const double *b, size_t b_stride, double *out, size_t out_stride);

/* out[i][j] = Σ_t a[i][t] · b[t][j] for i < n, j < columns, t < inner, in single precision (a's rows narrowed by
 * `cloister_narrow`): the products added in floats in order of t (fused where the clone fuses), the sum then widened.
 * b holds `inner` rows of b_stride floats, b_stride a multiple of 32 and at least `columns` (columns past `columns`
 * are read and not written: zeros there cost only their time). Each row's sums are formed the same way whatever rows
 * are around it, eight rows at a time or one. */
void cloister_products_float(size_t n, size_t inner, size_t columns, const float *a, size_t a_stride, const float *b,
                             size_t b_stride, double *out, size_t out_stride);

/* b[j][i] = a[i][j] rounded to a float, for i < rows, j < columns: A transposed into single precision (b's rows hold
 * b_stride floats; those past `rows` are not written). */
void cloister_transpose_float(size_t rows, size_t columns, const double *a, size_t a_stride, float *b, size_t b_stride);

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

/* x[i] = tanh(x[i]) in place, as −m/(2 + m) with m = e^(−2|x|) − 1 (`cloister_softmax`'s exponential less 1, formed
 * accurately near 0) and the sign of x: within a few units in the last place of tanh, ±1 past |x| = 354, NaN for NaN.
 * Branch-free, so that it vectorises; each value depends on its input and the CPU's clone alone. */
void cloister_tanh(double *x, size_t count);

/* The softmax of `count` logits in place: e^(x − max x) over their sum, e^y (y ≤ 0) as 2^k·e^r with |r| ≤ ln 2/2 and
 * e^r by its Taylor series to r¹³ (relative error below 2⁻⁵⁶ before rounding), 0 below y = −708. A NaN logit (or an
 * infinite one, whose difference with the largest is NaN) makes every value NaN. */
void cloister_softmax(double *x, size_t count);

/* units[i] = the fine sum fine[i] (an integer of magnitude at most 2⁵³, as a double) rounded to a grid 2^fine_bits
 * times coarser, to the nearest unit, half away from zero: `DiscreteGaussianMechanism.coarseUnits`, vectorised. */
void cloister_coarse_units(const double *fine, size_t count, unsigned fine_bits, int64_t *units);

/* One SGD step with momentum from a discrete Gaussian release, for i < count: the released value
 * r = (units[i] + noise[i])·step (`DiscreteGaussianMechanism.release`: the integer first, then scaled), then
 * velocity[i] = momentum·velocity[i] + r/batch and parameters[i] −= rate·velocity[i], each operation rounded in turn
 * as Swift rounds it (nothing fused). Returns 0 when some units[i] + noise[i] overflows 64 bits (a sum the mechanism
 * never forms: its sums are within 2⁶² and its noise within 2⁴⁶), and the values written are then meaningless. */
int cloister_momentum_step(size_t count, const int64_t *units, const int64_t *noise, double step, double batch,
                           double momentum, double rate, double *velocity, double *parameters);

/* out[i] = row[i] − centre[i] for i < count (a sampled example's features less the private centre, into its batch). */
void cloister_difference(const double *row, const double *centre, size_t count, double *out);

/* out[i] = x[i] rounded to a float, for i < count (a batch's inputs for `cloister_products_float`). */
void cloister_narrow(const double *x, size_t count, float *out);

/* The CPUs this process may run on (its sched_getaffinity mask), at least 1: sysconf reads /sys, which Landlock
 * closes to an enclave. */
int cloister_available_cpus(void);

#endif
