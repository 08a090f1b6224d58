/// Where an enclave process finds its two channels: the launcher places them on these descriptors before exec, and
/// the enclave SDK adopts them.
public enum EnclaveDescriptor {
    /// The enclave's descriptor of its ECALL channel to the host.
    public static let ecall: Int32 = 3
    /// The enclave's descriptor of its channel to the platform.
    public static let platform: Int32 = 4
}
