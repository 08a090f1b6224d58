import CloisterErrors
import Glibc

/// The C library's reason for `error` with its number, as every error that reports a failed system call says it:
/// "Permission denied (errno 13)".
public func errnoText(_ error: Int32) -> String {
    "\(String(cString: strerror(error))) (errno \(error))"
}
