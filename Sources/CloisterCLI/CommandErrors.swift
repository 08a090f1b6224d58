import ArgumentParser
import ConfidentialProtocol
import EnclaveProtocol
import Federated
import Foundation
import Learning
import Privacy
import RelyingParty
import VendorCollateral
import VerifierServer

/// Runs a command's work, printing a failure to standard error and exiting with the documented status: 65
/// (EX_DATAERR) for an invalid manifest, signature or input; 69 (EX_UNAVAILABLE) for a PCS, PCCS or AMD KDS that
/// cannot be reached or does not answer with the collateral; 73 (EX_CANTCREAT) for a collateral cache that cannot be
/// written; 78
/// (EX_CONFIG) for a missing, already existing or insecure platform, or a store that cannot be opened; 1 for anything
/// else. Usage errors and exit codes pass through.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw exitError(for: error)
    }
}

/// `reportingErrors` for asynchronous work.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        throw exitError(for: error)
    }
}

private func exitError(for error: any Error) -> any Error {
    switch error {
    case is ExitCode, is ValidationError:
        return error
    case let error as ManifestError:
        printToStandardError("error: \(error.description)")
        return ExitCode(65)
    case let error as PlatformError:
        printToStandardError("error: \(error.reason)")
        let configuration: Set<PlatformError.Code> = [.notInitialized, .alreadyInitialized, .insecurePermissions]
        return ExitCode(configuration.contains(error.code) ? 78 : 1)
    case let error as PrivacyError:
        printToStandardError("error: \(error.reason)")
        return ExitCode(error.code == .invalidParameter ? 64 : 65)
    case let error as LearningError:
        printToStandardError("error: \(error.reason)")
        return ExitCode(error.code == .invalidParameter ? 64 : 65)
    case let error as ConfidentialTrainingError:
        printToStandardError("error: \(error.reason)")
        switch error.code {
        case .attestationRefused, .resultRejected: return ExitCode(2)
        case .checkpointRejected, .datasetTooLarge: return ExitCode(65)
        default: return ExitCode.failure
        }
    case let error as FederationError:
        printToStandardError("error: \(error.reason)")
        switch error.code {
        case .attestationRefused, .statementRejected: return ExitCode(2)
        case .invalidParameter: return ExitCode(64)
        default: return ExitCode.failure
        }
    case let error as PCSError:
        printToStandardError("error: \(error.code): \(error.reason)")
        switch error.code {
        case .unsupportedQuote: return ExitCode(65)
        case .cacheUnwritable: return ExitCode(73)
        default: return ExitCode(69)
        }
    case let error as KDSError:
        printToStandardError("error: \(error.code): \(error.reason)")
        switch error.code {
        case .unsupportedReport: return ExitCode(65)
        case .cacheUnwritable: return ExitCode(73)
        default: return ExitCode(69)
        }
    case let error as AggregatorUnreachable:
        printToStandardError("error: \(error.description)")
        return ExitCode(69)
    case let error as StoreError:
        printToStandardError("error: \(error.reason)")
        return ExitCode(78)
    default:
        printToStandardError("error: \(error)")
        return ExitCode.failure
    }
}

func printToStandardError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
