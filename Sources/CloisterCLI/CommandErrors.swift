import ArgumentParser
import EnclaveRuntime
import Foundation

/// Runs a command's work, printing a failure to standard error and exiting with the documented status: 65
/// (EX_DATAERR) for an invalid manifest, signature or input; 78 (EX_CONFIG) for a missing, already existing or
/// insecure platform; 1 for anything else. Usage errors and exit codes pass through.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch let error as ManifestError {
        printToStandardError("error: \(error.description)")
        throw ExitCode(65)
    } catch let error as PlatformError {
        printToStandardError("error: \(error.reason)")
        let configuration: Set<PlatformError.Code> = [.notInitialized, .alreadyInitialized, .insecurePermissions]
        throw ExitCode(configuration.contains(error.code) ? 78 : 1)
    } catch {
        printToStandardError("error: \(error)")
        throw ExitCode.failure
    }
}

func printToStandardError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
