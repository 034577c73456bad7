//! Certificates for the signing tests, made by Debian's openssl in a scratch directory:
//! the chain a PSP would configure for a KMS key, and a fresh self-signed key.

use std::path::Path;
use std::process::Command;

/// A CA and a leaf certificate for `public_key_der` (the KMS key's), made by openssl in
/// `dir`: the chain a PSP would configure for its KMS key.
pub fn chain_for(public_key_der: &[u8], dir: &Path) -> Vec<u8> {
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, public_key_der)
    );
    std::fs::write(dir.join("kms.pub.pem"), pem).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (Debian's) is needed");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Test QR CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
    ]);
    // Any CSR will do: -force_pubkey puts the KMS key in the certificate.
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "csr.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=pix.tucano.test",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-force_pubkey",
        "kms.pub.pem",
        "-out",
        "leaf.pem",
    ]);
    [std::fs::read(dir.join("leaf.pem")).unwrap(), std::fs::read(dir.join("ca.pem")).unwrap()].concat()
}

/// A fresh key and a self-signed certificate for it, made by openssl in `dir`: (key PEM,
/// certificate PEM).
pub fn fresh_key(dir: &Path) -> (String, Vec<u8>) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "next.key", "-out", "next.pem"])
        .args(["-days", "2", "-subj", "/CN=pix.tucano.test"])
        .current_dir(dir)
        .output()
        .expect("openssl (Debian's) is needed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (std::fs::read_to_string(dir.join("next.key")).unwrap(), std::fs::read(dir.join("next.pem")).unwrap())
}
