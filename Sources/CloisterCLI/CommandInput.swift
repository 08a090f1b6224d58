import ArgumentParser
import Attestation
import CloisterCrypto
import EnclavePlatform
import EnclaveProtocol
import Foundation

/// Reading the files commands take as options; every failure is a usage error naming the option and the path.
enum CommandInput {
    static func bytes(_ path: String, _ option: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(option) \(path)")
        }
        return Array(data)
    }

    static func text(_ path: String, _ option: String) throws -> String {
        String(decoding: try bytes(path, option), as: UTF8.self)
    }

    /// The certificates in the PEM file at `path` (at least one).
    static func certificates(_ path: String, _ option: String) throws -> [X509Certificate] {
        let pem = try text(path, option)
        guard let certificates = try? X509Certificate.certificates(fromPEM: pem), !certificates.isEmpty else {
            throw ValidationError("\(option) \(path) is not a PEM certificate")
        }
        return certificates
    }

    /// The DCAP collateral JSON at `path` (`--collateral`), as read: refused, naming the file and the field at fault,
    /// unless it has the QuoteCollateralV3 fields.
    static func dcapCollateral(_ path: String) throws -> [UInt8] {
        let json = try bytes(path, "collateral")
        do {
            _ = try DCAPCollateral(json: json, source: path)
        } catch {
            throw ValidationError(error.reason)
        }
        return json
    }

    /// `path` if it is a file, else the .json files of the directory `path`, sorted (`--dcap-collateral`).
    static func dcapCollateralFiles(_ path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ValidationError("--dcap-collateral \(path) does not exist")
        }
        guard isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().map { "\(path)/\($0)" }
    }

    /// The certificate in the DER file at `path`, or the certificates of the PEM file (at least one).
    static func certificatesDERorPEM(_ path: String, _ option: String) throws -> [X509Certificate] {
        let bytes = try bytes(path, option)
        if let certificate = try? X509Certificate(derRepresentation: bytes) { return [certificate] }
        return try certificates(path, option)
    }

    /// The CRL in the DER file at `path` (as AMD's KDS serves them), or the CRLs of the PEM file.
    static func revocationLists(_ path: String, _ option: String) throws -> [CertificateRevocationList] {
        if let list = try? CertificateRevocationList(derRepresentation: bytes(path, option)) { return [list] }
        do {
            return try CertificateRevocationList.lists(fromPEM: text(path, option))
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("\(option) \(path) is not a DER or PEM CRL: \(error)")
        }
    }

    /// The EC private key in the PEM file at `path`.
    static func privateKey(_ path: String, _ option: String) throws -> ECPrivateKey {
        do {
            return try ECPrivateKey(pemRepresentation: text(path, option))
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("\(option) \(path) is not a P-256 or P-384 private key in PEM: \(error)")
        }
    }

    /// The signed manifest at `path` (given as `option`). A missing file is a manifest error that says where it was
    /// looked for (a relative path is resolved against the working directory) and the `cloister sign` command that
    /// writes it; every other failure names the file as `SignedManifest` does.
    static func signedManifest(_ path: String, _ option: String) throws(ManifestError) -> SignedManifest {
        guard FileManager.default.fileExists(atPath: path) else {
            let resolved = URL(fileURLWithPath: path).standardizedFileURL.path
            let location =
                path.hasPrefix("/")
                ? "" : " (resolved against the working directory \(FileManager.default.currentDirectoryPath))"
            let suffix = ".manifest.cose"
            let source = path.hasSuffix(suffix) ? String(path.dropLast(suffix.count)) + ".toml" : "MANIFEST.toml"
            throw ManifestError(
                .io,
                "\(option) \(path): no signed manifest at \(resolved)\(location); sign it first: cloister sign \(source) --key Keys/dev-signer.pem (or your own signing key)"
            )
        }
        return try SignedManifest(contentsOf: path)
    }
}
