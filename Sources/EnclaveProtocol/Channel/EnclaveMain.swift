/// The ECALLs the enclave runtime answers for every workload, by name: the host, the platform's tools and relying
/// parties call them; the enclave SDK's `EnclaveMain.run` serves them.
public enum EnclaveMain {
    /// The ECALL the host calls once to run the workload.
    public static let mainFunction = "main"
    /// The runtime's quoting ECALL.
    public static let quoteFunction = "cloister.quote"
}
