// The trusted-side executable: runs inside an enclave process started by the platform's launcher, with the ECALL
// channel on fd 3 and the platform channel on fd 4. argv[1] names the built-in workload.
import EnclaveProtocol
import EnclaveSDK
import Glibc
import Workloads

/// Writes one line to standard error (fd 2; the C `stderr` global is not concurrency-safe in Swift 6).
func complain(_ message: String) {
    writeText("cloister-enclave: \(message)\n", toDescriptor: 2)
}

/// Every built-in workload, by name.
let workloads = Dictionary(uniqueKeysWithValues: [BuiltinWorkload.echo, .dpsgd, .fedavg].map { ($0.name, $0) })

let arguments = CommandLine.arguments
guard arguments.count >= 2, arguments[1] != "--help" else {
    let names = workloads.values.sorted { $0.name < $1.name }.map { "  \($0.name): \($0.summary)" }
    print("usage: cloister-enclave WORKLOAD (started by the Cloister platform, not by hand)\n\nworkloads:")
    print(names.joined(separator: "\n"))
    exit(arguments.count >= 2 ? 0 : 64)
}
guard let workload = workloads[arguments[1]] else {
    complain("no built-in workload named '\(arguments[1])'")
    exit(64)
}
do {
    try EnclaveMain.run(workload)
} catch {
    complain("\(workload.name): \(error)")
    exit(1)
}
