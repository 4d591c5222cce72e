//! Loading the STARTTLS certificate and key (PEM files) into a rustls
//! acceptor, once at start-up.
//!
//! The process-wide crypto provider installed by the daemon is used; if none
//! was installed (a test, a tool), aws-lc-rs is used directly rather than
//! letting rustls panic.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::ServerConfig;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// Why the TLS files could not be used; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate file {}: {source}", path.display())]
    Certificate { path: PathBuf, source: pem::Error },
    #[error("the TLS certificate file {} holds no certificate", path.display())]
    NoCertificate { path: PathBuf },
    #[error("cannot read the TLS private key file {}: {source}", path.display())]
    Key { path: PathBuf, source: pem::Error },
    #[error("the TLS certificate {} and key {} cannot be used together: {source}", cert.display(), key.display())]
    Config {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

/// Reads the certificate chain (leaf first) and private key (PKCS#8, PKCS#1
/// or SEC1) and builds the acceptor for STARTTLS.
pub fn load_tls(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let chain = certificates(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|source| TlsError::Key {
        path: files.key.clone(),
        source,
    })?;
    let config_error = |source| TlsError::Config {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    };
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(config_error)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read_error = |source| TlsError::Certificate {
        path: path.to_path_buf(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(read_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load_error(files: &TlsFiles) -> TlsError {
        match load_tls(files) {
            Err(error) => error,
            Ok(_) => panic!("loaded {files:?}"),
        }
    }

    fn self_signed() -> (String, String) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        (cert.cert.pem(), cert.key_pair.serialize_pem())
    }

    #[test]
    fn loads_a_self_signed_pair() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed();
        let files = TlsFiles {
            cert: write(dir.path(), "cert.pem", &cert),
            key: write(dir.path(), "key.pem", &key),
        };
        assert!(load_tls(&files).is_ok());
    }

    #[test]
    fn errors_name_the_file_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed();
        let missing = TlsFiles {
            cert: dir.path().join("nope.pem"),
            key: write(dir.path(), "key.pem", &key),
        };
        let error = load_error(&missing);
        assert!(matches!(error, TlsError::Certificate { .. }));
        assert!(error.to_string().contains("nope.pem"), "{error}");

        let key_as_cert = TlsFiles {
            cert: write(dir.path(), "key-as-cert.pem", &key),
            key: write(dir.path(), "key2.pem", &key),
        };
        let error = load_error(&key_as_cert);
        assert!(matches!(error, TlsError::NoCertificate { .. }), "{error}");

        let no_key = TlsFiles {
            cert: write(dir.path(), "cert.pem", &cert),
            key: write(dir.path(), "empty.pem", ""),
        };
        let error = load_error(&no_key);
        assert!(matches!(error, TlsError::Key { .. }));
        assert!(error.to_string().contains("empty.pem"), "{error}");

        let (other_cert, _) = self_signed();
        let mismatched = TlsFiles {
            cert: write(dir.path(), "other.pem", &other_cert),
            key: write(dir.path(), "key3.pem", &key),
        };
        let error = load_error(&mismatched);
        assert!(matches!(error, TlsError::Config { .. }), "{error}");
    }
}
