//! What an HTTPS listener serves: certificates and their keys from PEM files, several
//! chosen by the name the client asks for (SNI), or a self-signed one made at start-up
//! for development, as Flask's `ssl_context="adhoc"`.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, ResolvesServerCertUsingSni};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, version};

/// The names the development certificate is valid for: this machine.
const ADHOC_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Certificates and keys for HTTPS, for [`App::run_tls`](crate::App::run_tls),
/// [`App::bind_tls`](crate::App::bind_tls) or [`Listen::https`](crate::Listen::https).
///
/// TLS 1.2 and 1.3 through rustls, ALPN `http/1.1`. The first certificate is served to
/// clients that name no server (one that connects to an IP address) or a name that has
/// no certificate of its own; [`add_certificate`](TlsConfig::add_certificate) adds one
/// for a name, chosen by SNI.
///
/// ```no_run
/// use carafe::{App, Request, TlsConfig};
///
/// let mut app = App::new();
/// app.get("/", |_: &Request| "Hello over TLS");
/// let tls = TlsConfig::from_pem_files("cert.pem", "key.pem")?
///     .add_certificate("api.example.com", "api-cert.pem", "api-key.pem")?;
/// app.run_tls("0.0.0.0:8443", tls)?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// For development, [`TlsConfig::adhoc`] makes a self-signed certificate at start-up:
///
/// ```
/// let tls = carafe::TlsConfig::adhoc().unwrap();
/// assert!(tls.is_adhoc());
/// assert_eq!(tls.fingerprint().len(), 32 * 3 - 1); // "AB:CD:..."
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    default: Arc<CertifiedKey>,
    named: Vec<(String, CertifiedKey)>,
    adhoc: bool,
}

impl TlsConfig {
    /// Reads a certificate chain (the server's certificate first, then the
    /// intermediates) and its private key (PKCS#8, PKCS#1 or SEC1) from PEM files.
    ///
    /// Fails, naming the file, when one cannot be read, holds no certificate or key, or
    /// the key does not match the certificate.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> io::Result<TlsConfig> {
        Ok(TlsConfig::new(load_files(cert.as_ref(), key.as_ref())?))
    }

    /// Like [`from_pem_files`](TlsConfig::from_pem_files), from PEM text in memory.
    pub fn from_pem(cert: &[u8], key: &[u8]) -> io::Result<TlsConfig> {
        Ok(TlsConfig::new(load_pem(cert, key)?))
    }

    /// A self-signed certificate for `localhost`, `127.0.0.1` and `::1`, made now with
    /// a fresh key, as Flask's `ssl_context="adhoc"`. For development only: browsers warn
    /// about it, and a client must be told to trust it (its
    /// [`fingerprint`](TlsConfig::fingerprint) is printed at start-up to compare with).
    pub fn adhoc() -> io::Result<TlsConfig> {
        let names: Vec<String> = ADHOC_NAMES.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).map_err(io::Error::other)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "carafe development certificate");
        let key_pair = rcgen::KeyPair::generate().map_err(io::Error::other)?;
        let cert = params.self_signed(&key_pair).map_err(io::Error::other)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
        let certified = certified_key(vec![cert.der().clone()], key, "the adhoc certificate")?;
        let mut config = TlsConfig::new(certified);
        config.adhoc = true;
        Ok(config)
    }

    /// What the environment asks for, as the examples read it: `TLS_CERT` and `TLS_KEY`
    /// naming PEM files, or `TLS_CERT=adhoc` for a development certificate; `None` when
    /// `TLS_CERT` is unset or empty.
    pub fn from_env() -> io::Result<Option<TlsConfig>> {
        let cert = std::env::var_os("TLS_CERT").filter(|c| !c.is_empty());
        match cert {
            None => Ok(None),
            Some(cert) if cert == "adhoc" => TlsConfig::adhoc().map(Some),
            Some(cert) => {
                let key = std::env::var_os("TLS_KEY")
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| invalid("TLS_CERT is set but TLS_KEY is not".into()))?;
                TlsConfig::from_pem_files(cert, key).map(Some)
            }
        }
    }

    /// Serves another certificate to clients that ask for `server_name` (SNI), e.g.
    /// `"api.example.com"`. Fails if the certificate is not valid for that name.
    pub fn add_certificate(
        self,
        server_name: &str,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> io::Result<TlsConfig> {
        let certified = load_files(cert.as_ref(), key.as_ref())?;
        self.add_certified(server_name, certified)
    }

    /// Like [`add_certificate`](TlsConfig::add_certificate), from PEM text in memory.
    pub fn add_certificate_pem(
        self,
        server_name: &str,
        cert: &[u8],
        key: &[u8],
    ) -> io::Result<TlsConfig> {
        let certified = load_pem(cert, key)?;
        self.add_certified(server_name, certified)
    }

    /// The SHA-256 fingerprint of the first certificate, as `openssl x509 -fingerprint
    /// -sha256` prints it: 32 hex pairs joined by colons.
    pub fn fingerprint(&self) -> String {
        let der = self.default.cert.first().map_or(&[][..], |c| c.as_ref());
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }

    /// Whether this is a development certificate made by [`TlsConfig::adhoc`].
    pub fn is_adhoc(&self) -> bool {
        self.adhoc
    }

    fn new(certified: CertifiedKey) -> TlsConfig {
        TlsConfig {
            default: Arc::new(certified),
            named: Vec::new(),
            adhoc: false,
        }
    }

    fn add_certified(mut self, name: &str, certified: CertifiedKey) -> io::Result<TlsConfig> {
        // Checked now, so a certificate that does not cover its name fails at start-up
        // rather than handshake after handshake.
        ResolvesServerCertUsingSni::new()
            .add(name, certified.clone())
            .map_err(|e| invalid(format!("the certificate for {name}: {e}")))?;
        self.named.push((name.to_owned(), certified));
        Ok(self)
    }

    /// The rustls configuration one listener's connections share.
    pub(crate) fn server_config(&self) -> io::Result<Arc<ServerConfig>> {
        let mut named = ResolvesServerCertUsingSni::new();
        for (name, certified) in &self.named {
            named
                .add(name, certified.clone())
                .map_err(|e| invalid(format!("the certificate for {name}: {e}")))?;
        }
        let resolver = Certificates {
            named,
            default: self.default.clone(),
        };
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&version::TLS13, &version::TLS12])
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        // HTTP/1.1 only: a client that offers only h2 is refused in the handshake, as
        // RFC 7301 asks, rather than spoken to in a protocol it did not choose.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("fingerprint", &self.fingerprint())
            .field(
                "names",
                &self.named.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("adhoc", &self.adhoc)
            .finish()
    }
}

/// Chooses the certificate for a handshake: the one added for the name the client
/// asks for, else the first.
#[derive(Debug)]
struct Certificates {
    named: ResolvesServerCertUsingSni,
    default: Arc<CertifiedKey>,
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // As nginx's default server: a name without a certificate of its own, and a
        // client that sends none, get the first one.
        self.named
            .resolve(client_hello)
            .or_else(|| Some(self.default.clone()))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn load_files(cert: &Path, key: &Path) -> io::Result<CertifiedKey> {
    let what = |path: &Path, e: &dyn fmt::Display| invalid(format!("{}: {e}", path.display()));
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| what(cert, &e))?;
    if chain.is_empty() {
        return Err(what(cert, &"no certificate in it"));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| what(key, &e))?;
    certified_key(chain, private, &key.display().to_string())
}

fn load_pem(cert: &[u8], key: &[u8]) -> io::Result<CertifiedKey> {
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("the certificate: {e}")))?;
    if chain.is_empty() {
        return Err(invalid("no certificate in the PEM text".into()));
    }
    let private =
        PrivateKeyDer::from_pem_slice(key).map_err(|e| invalid(format!("the key: {e}")))?;
    certified_key(chain, private, "the key")
}

/// The chain and its key, once the key is known to belong to the chain's first
/// certificate.
fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    what: &str,
) -> io::Result<CertifiedKey> {
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| invalid(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_pair(names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let made = rcgen::generate_simple_self_signed(names).unwrap();
        (made.cert.pem(), made.key_pair.serialize_pem())
    }

    #[test]
    fn a_key_must_belong_to_its_certificate() {
        let (cert, key) = pem_pair(&["a.test"]);
        assert!(TlsConfig::from_pem(cert.as_bytes(), key.as_bytes()).is_ok());
        let (_, other_key) = pem_pair(&["a.test"]);
        let err = TlsConfig::from_pem(cert.as_bytes(), other_key.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = TlsConfig::from_pem(b"", key.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
        assert!(TlsConfig::from_pem(cert.as_bytes(), b"").is_err());
    }

    #[test]
    fn files_that_fail_are_named() {
        let err =
            TlsConfig::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    }

    #[test]
    fn a_certificate_for_a_name_must_cover_it() {
        let (cert, key) = pem_pair(&["a.test"]);
        let (b_cert, b_key) = pem_pair(&["b.test"]);
        let config = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        let err = config
            .clone()
            .add_certificate_pem("c.test", b_cert.as_bytes(), b_key.as_bytes())
            .unwrap_err();
        assert!(err.to_string().contains("c.test"), "{err}");
        let config = config
            .add_certificate_pem("b.test", b_cert.as_bytes(), b_key.as_bytes())
            .unwrap();
        assert!(config.server_config().is_ok());
    }

    #[test]
    fn the_fingerprint_is_of_the_first_certificate() {
        let adhoc = TlsConfig::adhoc().unwrap();
        let fingerprint = adhoc.fingerprint();
        assert_eq!(fingerprint.split(':').count(), 32);
        assert!(
            fingerprint
                .chars()
                .all(|c| c == ':' || c.is_ascii_hexdigit())
        );
        // A fresh key and certificate each time.
        assert_ne!(TlsConfig::adhoc().unwrap().fingerprint(), fingerprint);
        assert!(format!("{adhoc:?}").contains(&fingerprint));
    }
}
