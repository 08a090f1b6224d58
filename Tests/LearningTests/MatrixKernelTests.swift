import CloisterTestSupport
import Foundation
import Testing

/// The kernels as they run in a release build: SwiftPM compiles C without optimisation for the tests, where every
/// sum is formed in source order anyway, so this compiles `CMatrixKernels` with `clang -O3` (vectorised, the CPU's
/// clone) and checks it there.
@Suite("The matrix kernels optimised: a row's sums do not depend on its place in the batch")
struct MatrixKernelTests {
    static let check = #"""
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include "cloister_matrix.h"
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
            return differ != 0;
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
    }
}
