import CloisterTestSupport
import Foundation
import Testing

/// The kernels as they run in a release build: SwiftPM compiles C without optimisation for the tests, so this compiles
/// `CMatrixKernels` with `clang -O3` (vectorised, the CPU's clone), each clone alone, and unoptimised, and checks each:
/// a row's products (in doubles and in floats) do not depend on its place, the outer products' integer sums are exact, the activations are
/// accurate, and the release's rounding and momentum step are their formulas.
@Suite("The matrix kernels optimised and not: place-independent products, exact sums, accurate activations")
struct MatrixKernelTests {
    static let check = #"""
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <math.h>
        #include <stdint.h>
        #include "cloister_matrix.h"
        /* The single-precision products (the MLP's first layer): every row the same gives the same bits whether it
         * falls in a tile of eight rows or among those left over, for column counts across tiles of 32; each sum is
         * within float rounding of the double sum of the transposed weights' products, and the transpose is exact. */
        static int float_products(void) {
            int differ = 0, wrong = 0, cases = 0;
            for (size_t inner = 1; inner < 120; inner += 17)
                for (size_t columns = 1; columns <= 70; columns += 23) {
                    const size_t n = 21, stride = (columns + 31) / 32 * 32;
                    double *a = malloc(n * inner * sizeof *a), *w = malloc(columns * inner * sizeof *w);
                    /* Output rows one longer than the columns, as the MLP's hidden rows (their last the 1). */
                    const size_t out_stride = columns + 1;
                    double *out = malloc(n * out_stride * sizeof *out);
                    float *b = calloc(inner * stride, sizeof *b), *narrow = malloc(n * inner * sizeof *narrow);
                    for (size_t i = 0; i < inner; i++) a[i] = (double)rand() / RAND_MAX * 2 - 1;
                    for (size_t r = 1; r < n; r++) memcpy(a + r * inner, a, inner * sizeof *a);
                    for (size_t i = 0; i < columns * inner; i++) w[i] = (double)rand() / RAND_MAX * 2 - 1;
                    cloister_transpose_float(columns, inner, w, inner, b, stride);
                    for (size_t j = 0; j < columns; j++)
                        for (size_t t = 0; t < inner; t++) wrong += b[t * stride + j] != (float)w[j * inner + t];
                    for (size_t i = 0; i < n * out_stride; i++) out[i] = -7;
                    cloister_narrow(a, n * inner, narrow);
                    for (size_t i = 0; i < n * inner; i++) wrong += narrow[i] != (float)a[i];
                    cloister_products_float(n, inner, columns, narrow, inner, b, stride, out, out_stride);
                    for (size_t r = 1; r < n; r++)
                        for (size_t j = 0; j < columns; j++) differ += out[r * out_stride + j] != out[j];
                    for (size_t r = 0; r < n; r++) wrong += out[r * out_stride + columns] != -7; /* not written */
                    for (size_t j = 0; j < columns; j++) {
                        double exact = 0, size = 0;
                        for (size_t t = 0; t < inner; t++) {
                            exact += (double)(float)a[t] * (double)b[t * stride + j];
                            size += fabs(a[t] * w[j * inner + t]);
                        }
                        wrong += !(fabs(out[j] - exact) <= (double)inner * 0x1p-23 * size);
                    }
                    cases++;
                    free(a), free(w), free(out), free(b), free(narrow);
                }
            printf("%d float cases, %d differing, %d wrong\n", cases, differ, wrong);
            return differ != 0 || wrong != 0;
        }
        /* Integer outer products of up to 33 records, in every tile shape and remainder: the sum must be exact, the
         * same as the products added one at a time in order (every partial sum an integer below 2^53). */
        static int outer_products(void) {
            const size_t widths[] = {1, 5, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 785};
            int wrong = 0, cases = 0;
            for (size_t w = 0; w < sizeof widths / sizeof *widths; w++)
                for (size_t rows = 1; rows <= 9; rows++)
                    for (size_t n = 1; n <= 33; n += 4) {
                        const size_t width = widths[w];
                        double *p = malloc(n * rows * sizeof *p), *q = malloc(n * width * sizeof *q);
                        double *sum = malloc(rows * width * sizeof *sum);
                        double *expected = malloc(rows * width * sizeof *expected);
                        for (size_t i = 0; i < n * rows; i++) p[i] = (double)(rand() % 2000001 - 1000000);
                        for (size_t i = 0; i < n * width; i++) q[i] = (double)(rand() % 2000001 - 1000000);
                        for (size_t i = 0; i < rows * width; i++) sum[i] = expected[i] = (double)(rand() % 1000);
                        for (size_t r = 0; r < n; r++)
                            for (size_t k = 0; k < rows; k++)
                                for (size_t t = 0; t < width; t++)
                                    expected[k * width + t] += p[r * rows + k] * q[r * width + t];
                        cloister_add_outer_products(n, rows, width, p, rows, q, width, sum, width);
                        for (size_t i = 0; i < rows * width; i++) wrong += sum[i] != expected[i];
                        cases++;
                        free(p), free(q), free(sum), free(expected);
                    }
            printf("%d outer product cases, %d wrong sums\n", cases, wrong);
            return wrong != 0;
        }
        /* tanh within 4 units in the last place of libm's (3 at worst, near 0.74), and exact at 0, ±inf, NaN; the
         * softmax within 1e-15 relatively of libm's exponentials over their sum, NaN throughout for a NaN logit. */
        static int activations(void) {
            int wrong = 0;
            const size_t count = 200001;
            double *x = malloc(count * sizeof *x);
            for (size_t i = 0; i < count; i++) x[i] = -30 + 60.0 * i / (count - 1);
            cloister_tanh(x, count);
            for (size_t i = 0; i < count; i++) {
                const double input = -30 + 60.0 * i / (count - 1), reference = tanh(input);
                wrong += !(fabs(x[i] - reference) <= 4 * (nextafter(fabs(reference), INFINITY) - fabs(reference)));
            }
            double tiny[] = {1e-300, -1e-20, 1e-8, 3e-4};
            cloister_tanh(tiny, 4);
            wrong += tiny[0] != 1e-300 || tiny[1] != -1e-20 || fabs(tiny[2] / tanh(1e-8) - 1) > 1e-15
                || fabs(tiny[3] / tanh(3e-4) - 1) > 1e-15;
            double special[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 400};
            cloister_tanh(special, 6);
            wrong += special[0] != 0 || !signbit(special[1]) || special[2] != 1 || special[3] != -1;
            wrong += !isnan(special[4]) || special[5] != 1;
            for (int trial = 0; trial < 20000; trial++) {
                double logits[13], reference[13], total = 0, largest = -INFINITY;
                const size_t k = 1 + trial % 13;
                for (size_t i = 0; i < k; i++) logits[i] = ((double)rand() / RAND_MAX - 0.5) * (trial % 2 ? 1500 : 20);
                for (size_t i = 0; i < k; i++) largest = fmax(largest, logits[i]);
                for (size_t i = 0; i < k; i++) total += reference[i] = exp(logits[i] - largest);
                cloister_softmax(logits, k);
                for (size_t i = 0; i < k; i++) {
                    const double expected = reference[i] / total;
                    wrong += !(fabs(logits[i] - expected) <= 1e-15 * expected + (expected < 1e-300 ? 1e-300 : 0));
                }
            }
            double broken[] = {1, NAN, 2};
            cloister_softmax(broken, 3);
            wrong += !isnan(broken[0]) || !isnan(broken[1]) || !isnan(broken[2]);
            printf("activations: %d wrong\n", wrong);
            free(x);
            return wrong != 0;
        }
        /* The coarse units against the rounding written out in integers, at the ends of the range and at every tie;
         * the momentum step against its formula one operation at a time, and its overflow report; a row less the
         * centre. */
        static int release(void) {
            int wrong = 0;
            enum { count = 4099 };
            static double fine[count];
            static int64_t units[count], noise[count];
            for (unsigned bits = 0; bits <= 44; bits += 11) {
                for (size_t i = 0; i < count; i++) {
                    const int64_t magnitude = i < 8 ? (INT64_C(1) << 53) - (int64_t)i
                        : i < 16 ? ((int64_t)i << bits) + (bits ? INT64_C(1) << (bits - 1) : 0)
                        : ((int64_t)rand() << 22) ^ rand();
                    fine[i] = (double)(i % 2 ? -magnitude : magnitude);
                }
                cloister_coarse_units(fine, count, bits, units);
                for (size_t i = 0; i < count; i++) {
                    const int64_t sum = (int64_t)fine[i];
                    const uint64_t magnitude = ((uint64_t)llabs(sum) + (bits ? UINT64_C(1) << (bits - 1) : 0)) >> bits;
                    wrong += units[i] != (sum < 0 ? -(int64_t)magnitude : (int64_t)magnitude);
                }
            }
            static double velocity[count], parameters[count], expected_velocity[count], expected_parameters[count];
            for (size_t i = 0; i < count; i++) {
                units[i] = ((int64_t)rand() << 20) - ((int64_t)rand() << 10);
                noise[i] = (int64_t)rand() - RAND_MAX / 2;
                velocity[i] = expected_velocity[i] = (double)rand() / RAND_MAX - 0.5;
                parameters[i] = expected_parameters[i] = (double)rand() / RAND_MAX - 0.5;
            }
            const double step = 0x1p-40, batch = 256, momentum = 0.9, rate = 0.3;
            #define STEP() cloister_momentum_step(count, units, noise, step, batch, momentum, rate, velocity, parameters)
            wrong += STEP() != 1;
            for (size_t i = 0; i < count; i++) {
                volatile double released = (double)(units[i] + noise[i]) * step;
                volatile double kept = momentum * expected_velocity[i];
                volatile double share = released / batch;
                expected_velocity[i] = kept + share;
                volatile double move = rate * expected_velocity[i];
                expected_parameters[i] -= move;
                wrong += velocity[i] != expected_velocity[i] || parameters[i] != expected_parameters[i];
            }
            units[count / 2] = INT64_MAX - 3;
            noise[count / 2] = 4;
            wrong += STEP() != 0;
            units[count / 2] = INT64_MIN + 3;
            noise[count / 2] = -4;
            wrong += STEP() != 0;
            noise[count / 2] = -3;
            wrong += STEP() != 1;
            double row[37], centre[37], out[37];
            for (size_t i = 0; i < 37; i++) row[i] = rand() / 7.0, centre[i] = rand() / 3.0;
            cloister_difference(row, centre, 37, out);
            for (size_t i = 0; i < 37; i++) wrong += out[i] != row[i] - centre[i];
            printf("release: %d wrong\n", wrong);
            return wrong != 0;
        }
        /* Every row of A the same: each row's products with B, and its squared norm, must be the same bits, whether
         * the row falls in a tile of four rows or among those left over. */
        int main(void) {
            int differ = 0, cases = 0;
            srand(7);
            for (size_t width = 1; width < 100; width += 3)
                for (size_t m = 1; m <= 5; m++) {
                    const size_t n = 63;
                    double *a = malloc(n * width * sizeof *a), *b = malloc(m * width * sizeof *b);
                    double *out = malloc(n * m * sizeof *out);
                    for (size_t i = 0; i < width; i++) a[i] = (double)rand() / RAND_MAX * 6 - 3;
                    for (size_t i = 0; i < m * width; i++) b[i] = (double)rand() / RAND_MAX * 2 - 1;
                    for (size_t r = 1; r < n; r++) memcpy(a + r * width, a, width * sizeof *a);
                    cloister_products_with_rows(n, m, width, a, width, b, width, out, m);
                    for (size_t r = 1; r < n; r++)
                        for (size_t j = 0; j < m; j++) differ += out[r * m + j] != out[j];
                    for (size_t r = 1; r < n; r++)
                        differ += cloister_squared_norm(a + r * width, width) != cloister_squared_norm(a, width);
                    cases++;
                    free(a), free(b), free(out);
                }
            printf("%d cases, %d differing sums\n", cases, differ);
            return (differ != 0) | float_products() | outer_products() | activations() | release();
        }
        """#

    /// Each clone's instruction set, and the CPU flags it needs (x86-64 psABI levels; the baseline needs none).
    static let clones: [(arch: String, flags: [String])] = [
        ("x86-64-v4", ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx2", "fma"]),
        ("x86-64-v3", ["avx2", "fma", "bmi1", "bmi2", "movbe", "f16c", "abm"]),
        ("x86-64", []),
    ]

    @Test("every row's products and norm are the same bits wherever it sits, across widths and tile shapes")
    func placeIndependent() throws {
        try expectPlaceIndependent(options: [])
    }

    /// A debug build compiles the kernels without optimisation: the helpers each clone calls must still take the
    /// clone's instruction set (inlined always), or a tile's sums, fused, and a left-over row's, not, would differ.
    @Test("unoptimised, as a debug build compiles them: the same checks")
    func unoptimised() throws {
        try expectPlaceIndependent(options: ["-O0"])
    }

    @Test(
        "each clone alone that this CPU runs, built for its instruction set",
        arguments: MatrixKernelTests.clones.map(\.arch))
    func eachClone(arch: String) throws {
        let cpu = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = Set(
            cpu.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
        let needed = Self.clones.first { $0.arch == arch }!.flags
        let missing = needed.filter { !flags.contains($0) }
        try #require(missing.isEmpty || arch == "x86-64-v4", "this CPU lacks \(missing) for \(arch)")
        // A CPU without AVX-512 runs the other two; the release picks one of them there.
        guard missing.isEmpty else { return }
        try expectPlaceIndependent(options: ["-DCLONES=", "-march=\(arch)"])
    }

    /// The outer products' sum takes tiles of 32 columns where the CPU has AVX-512 and of 16 where it has not: each
    /// width built alone, its sums exact.
    @Test("the outer products' tiles of 16 and of 32 columns, each alone", arguments: [0, 1])
    func outerTileWidths(wide: Int) throws {
        try expectPlaceIndependent(options: ["-DOUTER_WIDE=\(wide)"])
    }

    private func expectPlaceIndependent(options: [String]) throws {
        let directory = try TestEnvironment.temporaryDirectory("kernels")
        defer { try? FileManager.default.removeItem(at: directory) }
        let kernels = TestEnvironment.packageRoot.appendingPathComponent("Sources/CMatrixKernels")
        let source = directory.appendingPathComponent("check.c")
        try Self.check.write(to: source, atomically: true, encoding: .utf8)
        let binary = directory.appendingPathComponent("check").path
        let compiled = try runTool(
            "clang",
            ["-O3"] + options + [
                "-I", kernels.appendingPathComponent("include").path,
                kernels.appendingPathComponent("matrix.c").path, source.path, "-o", binary, "-lm",
            ])
        try #require(compiled.status == 0, "clang \(options): \(compiled.standardError)")
        let run = try runTool(binary, [])
        #expect(run.status == 0, "\(options): \(run.standardOutput)")
        #expect(run.standardOutput.contains("165 cases, 0 differing sums"), "\(options): \(run.standardOutput)")
        #expect(
            run.standardOutput.contains("1053 outer product cases, 0 wrong sums"), "\(options): \(run.standardOutput)")
        #expect(
            run.standardOutput.contains("28 float cases, 0 differing, 0 wrong"), "\(options): \(run.standardOutput)")
        #expect(run.standardOutput.contains("activations: 0 wrong"), "\(options): \(run.standardOutput)")
        #expect(run.standardOutput.contains("release: 0 wrong"), "\(options): \(run.standardOutput)")
    }
}
