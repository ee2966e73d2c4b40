//! The TLS client configuration of the daemon's outgoing connections (an MQTT broker, a
//! webhook receiver): rustls with the ring provider, trusting a CA file the operator gives
//! or the system's roots.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the CA file {path}: {problem}")]
    CaFile { path: PathBuf, problem: String },
    #[error("no CA certificate to trust: {0}; give a CA file")]
    NoRoots(String),
    #[error("{0}")]
    Config(String),
}

/// A client configuration trusting the certificates in `ca_file` (PEM), or the system's.
pub fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let bad = |problem: String| TlsError::CaFile {
                path: path.to_path_buf(),
                problem,
            };
            let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect())
                .map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad("no PEM certificate in it".to_string()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| bad(e.to_string()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(TlsError::NoRoots(
                    found
                        .errors
                        .first()
                        .map_or("the system has none".to_string(), |e| e.to_string()),
                ));
            }
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
}
