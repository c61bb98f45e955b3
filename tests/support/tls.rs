//! TLS for the tests: a throwaway certificate authority and the certificates it signs
//! (for names, expired), the rustls client that trusts it, and servers that serve them.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use carafe::{App, TlsConfig};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::TestServer;

/// A TLS client stream over TCP, as the tests use it.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// A certificate authority made for one test run.
pub struct Pki {
    ca: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
}

/// A certificate and its key, as PEM text.
pub struct Leaf {
    pub cert: String,
    pub key: String,
}

impl Leaf {
    pub fn der(&self) -> CertificateDer<'static> {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(self.cert.as_bytes()).unwrap()
    }

    pub fn config(&self) -> TlsConfig {
        TlsConfig::from_pem(self.cert.as_bytes(), self.key.as_bytes()).unwrap()
    }

    /// Writes `NAME-cert.pem` and `NAME-key.pem` into `dir`; returns their paths.
    pub fn write(
        &self,
        dir: &std::path::Path,
        name: &str,
    ) -> (std::path::PathBuf, std::path::PathBuf) {
        let cert = dir.join(format!("{name}-cert.pem"));
        let key = dir.join(format!("{name}-key.pem"));
        std::fs::write(&cert, &self.cert).unwrap();
        std::fs::write(&key, &self.key).unwrap();
        (cert, key)
    }
}

impl Pki {
    pub fn new() -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        // A name of its own: a client that trusts another test CA must not take this
        // one's certificates for that one's (same name, wrong signature).
        static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("carafe test CA {n}"));
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = params.self_signed(&ca_key).unwrap();
        Pki { ca, ca_key }
    }

    /// A certificate for `names` (DNS names or IP addresses), valid now.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.sign(names, false)
    }

    /// A certificate for `names` that expired in 2001.
    pub fn expired(&self, names: &[&str]) -> Leaf {
        self.sign(names, true)
    }

    fn sign(&self, names: &[&str], expired: bool) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// The CA certificate as PEM, for `curl --cacert` and Python's `cafile`.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        roots
    }

    /// A client that trusts this CA, offers ALPN `http/1.1`, and speaks TLS 1.2 and 1.3.
    pub fn client(&self) -> Arc<ClientConfig> {
        client_config(
            self.roots(),
            &[&rustls::version::TLS13, &rustls::version::TLS12],
        )
    }
}

pub fn client_config(
    roots: RootCertStore,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Connects to `addr` as a client of `name` and completes the handshake.
pub fn connect(addr: SocketAddr, name: &str, config: &Arc<ClientConfig>) -> io::Result<TlsStream> {
    handshake(TcpStream::connect(addr)?, name, config)
}

/// Completes a handshake as a client of `name` over a connected socket.
pub fn handshake(tcp: TcpStream, name: &str, config: &Arc<ClientConfig>) -> io::Result<TlsStream> {
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let conn = ClientConnection::new(config.clone(), server_name).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// The first flight of a real client: its ClientHello, as bytes to send by hand.
pub fn client_hello(config: &Arc<ClientConfig>) -> Vec<u8> {
    let mut conn = ClientConnection::new(config.clone(), "localhost".try_into().unwrap()).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    hello
}

/// The rustls error inside a failed handshake's `io::Error`.
pub fn tls_error(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

/// An app served over TLS on a free port.
pub fn start(app: App, tls: TlsConfig) -> TestServer {
    TestServer::run(app.bind_tls("127.0.0.1:0", tls).expect("bind"))
}

/// The SHA-256 fingerprint of a certificate, as carafe and openssl print it.
pub fn fingerprint(der: &CertificateDer<'_>) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// A handshake that accepts whatever certificate the server shows, to look at it.
pub fn connect_trusting_anything(addr: std::net::SocketAddr) -> TlsStream {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    #[derive(Debug)]
    struct Anything;
    impl ServerCertVerifier for Anything {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(std::sync::Arc::new(Anything))
    .with_no_client_auth();
    connect(addr, "localhost", &std::sync::Arc::new(config)).unwrap()
}
