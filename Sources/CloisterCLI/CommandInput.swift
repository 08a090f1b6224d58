import ArgumentParser
import CloisterCrypto
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

    /// The CRLs in the PEM file at `path`.
    static func revocationLists(_ path: String, _ option: String) throws -> [CertificateRevocationList] {
        do {
            return try CertificateRevocationList.lists(fromPEM: text(path, option))
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError("\(option) \(path) is not a PEM CRL: \(error)")
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
}
