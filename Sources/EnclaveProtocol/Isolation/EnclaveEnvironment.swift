/// What the launcher and the manifest reader agree an enclave's environment may never hold.
public enum EnclaveEnvironment {
    /// Whether `name` is an environment variable that would make the dynamic loader, the C library or a library of
    /// the enclave load or run code from outside the measured image, or retune its allocator: every `LD_*`
    /// (`LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT`, ...), `GLIBC_TUNABLES`, every `MALLOC_*`, `GCONV_PATH` (iconv
    /// modules), `OPENSSL_CONF`, `OPENSSL_MODULES` and `OPENSSL_ENGINES` (providers and engines) and
    /// `SWIFT_BACKTRACE` (which can name a program to run on a crash). Manifests may not set them.
    public static func isLoaderVariable(_ name: String) -> Bool {
        loaderVariablePrefixes.contains { name.hasPrefix($0) } || loaderVariables.contains(name)
    }

    private static let loaderVariablePrefixes = ["LD_", "MALLOC_"]
    private static let loaderVariables: Set<String> = [
        "GLIBC_TUNABLES", "GCONV_PATH", "OPENSSL_CONF", "OPENSSL_MODULES", "OPENSSL_ENGINES", "SWIFT_BACKTRACE",
    ]
}
