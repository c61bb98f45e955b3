//! HTTPS as other clients see it: `curl` (OpenSSL) and Python's `ssl`, against a server
//! whose certificates come from PEM files. CI installs both (`.ci/run`); elsewhere a
//! missing tool skips its test with a note.
#![cfg(feature = "tls")]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use carafe::{App, Request, TlsConfig};
use support::TestServer;
use support::tls::{Pki, start};

/// A scratch directory for PEM files, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("carafe-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `tool` runs here; under CI its absence is a failure.
fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{tool} is missing in CI");
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

fn app() -> App {
    let mut app = support::demo_app();
    app.get("/scheme", |req: &Request| req.url());
    app
}

/// Serves `app` with certificates for localhost (and for a.test by SNI) read from PEM
/// files; returns the server and the CA file clients trust.
fn serve(pki: &Pki, dir: &Path) -> (TestServer, PathBuf) {
    let (cert, key) = pki.leaf(&["localhost"]).write(dir, "localhost");
    let (a_cert, a_key) = pki.leaf(&["a.test"]).write(dir, "a");
    let tls = TlsConfig::from_pem_files(&cert, &key)
        .unwrap()
        .add_certificate("a.test", &a_cert, &a_key)
        .unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    (start(app(), tls), ca)
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn curl_gets_and_uploads_over_tls_1_2_and_1_3() {
    if !have("curl") {
        return;
    }
    let dir = Dir::new("tls-curl");
    let pki = Pki::new();
    let (server, ca) = serve(&pki, &dir.0);
    let port = server.addr.port();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = |path: &str| format!("https://localhost:{port}{path}");
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args([
                "-sS",
                "--cacert",
                ca.to_str().unwrap(),
                "--resolve",
                &resolve,
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    for version in [
        ["--tlsv1.3", "--tls-max", "1.3"],
        ["--tlsv1.2", "--tls-max", "1.2"],
    ] {
        let out = curl(
            &[
                &version[..],
                &["-w", " %{http_code} %{http_version}", &url("/")],
            ]
            .concat(),
        );
        assert_eq!(stdout(&out), "Hello, World! 200 1.1", "{version:?}");
    }
    // Two requests on one connection, and the URL the app sees.
    let out = curl(&["-v", &url("/scheme"), &url("/scheme?again=1")]);
    let text = stdout(&out);
    assert_eq!(
        text,
        format!("https://localhost:{port}/schemehttps://localhost:{port}/scheme?again=1")
    );
    let verbose = String::from_utf8_lossy(&out.stderr);
    assert!(
        verbose.contains("Re-using existing connection"),
        "{verbose}"
    );
    assert!(
        verbose.contains("ALPN: server accepted http/1.1"),
        "{verbose}"
    );
    // A chunked upload of a file, echoed.
    let upload = dir.0.join("upload.bin");
    let body: Vec<u8> = (0..1_500_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&upload, &body).unwrap();
    let out = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &format!("@{}", upload.display()),
        &url("/echo"),
    ]);
    assert!(out.status.success());
    assert!(out.stdout == body, "the echo differs");
    // Without the CA, curl refuses the certificate (exit 60).
    let out = Command::new("curl")
        .args(["-sS", "--resolve", &resolve, &url("/")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(60), "{out:?}");
}

#[test]
fn python_ssl_verifies_the_certificate_the_name_chooses() {
    if !have("python3") {
        return;
    }
    let dir = Dir::new("tls-python");
    let pki = Pki::new();
    let (server, ca) = serve(&pki, &dir.0);
    let script = r#"
import socket, ssl, sys, urllib.request
port, cafile = int(sys.argv[1]), sys.argv[2]
context = ssl.create_default_context(cafile=cafile)
print(urllib.request.urlopen(f"https://localhost:{port}/scheme", context=context).read().decode())
for name in ["localhost", "a.test"]:
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            names = [v for k, v in tls.getpeercert()["subjectAltName"]]
            print(name, tls.version(), tls.selected_alpn_protocol(), names)
try:
    with socket.create_connection(("127.0.0.1", port)) as raw:
        context.wrap_socket(raw, server_hostname="b.test")
    print("b.test accepted")
except ssl.SSLCertVerificationError as e:
    print("b.test refused:", e.verify_message)
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &server.addr.port().to_string(),
            ca.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!("https://localhost:{}/scheme", server.addr.port())
    );
    // Python offers no ALPN here unless asked: None.
    assert_eq!(lines[1], "localhost TLSv1.3 None ['localhost']");
    assert_eq!(lines[2], "a.test TLSv1.3 None ['a.test']");
    assert!(
        lines[3].starts_with("b.test refused: Hostname mismatch"),
        "{text}"
    );
}

#[test]
fn python_refuses_an_expired_certificate() {
    if !have("python3") {
        return;
    }
    let dir = Dir::new("tls-python-expired");
    let pki = Pki::new();
    let (cert, key) = pki.expired(&["localhost"]).write(&dir.0, "expired");
    let server = start(app(), TlsConfig::from_pem_files(&cert, &key).unwrap());
    let ca = dir.0.join("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    let script = r#"
import ssl, sys, urllib.request
context = ssl.create_default_context(cafile=sys.argv[2])
try:
    urllib.request.urlopen(f"https://localhost:{sys.argv[1]}/", context=context)
    print("accepted")
except urllib.error.URLError as e:
    print("refused:", e.reason.verify_message)
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &server.addr.port().to_string(),
            ca.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "refused: certificate has expired");
}
