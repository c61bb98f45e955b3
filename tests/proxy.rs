//! Behind proxies: forwarded headers are believed only for the hops the app trusts,
//! counted from the right, and only when they parse (Werkzeug's `ProxyFix`, RFC 7239).

mod support;

use std::os::unix::net::UnixStream;

use carafe::{App, Config, Request, TrustedProxies};
use support::{TestServer, roundtrip};

fn app(trusted_proxies: TrustedProxies) -> App {
    let mut app = App::new().with_config(Config {
        trusted_proxies,
        ..Config::default()
    });
    app.get("/who", |req: &Request| {
        format!(
            "{:?} {} {:?} {}",
            req.remote_addr(),
            req.scheme(),
            req.host(),
            // A closure's endpoint is its rule.
            req.url_for_external("/who", &[]).unwrap()
        )
    });
    app
}

fn who(server: &TestServer, headers: &str) -> String {
    let request = format!("GET /who HTTP/1.1\r\nHost: app.internal:8000\r\n{headers}\r\n");
    roundtrip(server, request.as_bytes()).text()
}

#[test]
fn with_no_trusted_proxy_a_client_cannot_spoof_its_address() {
    let server = TestServer::start(app(TrustedProxies::default()));
    let text = who(
        &server,
        "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n\
         Forwarded: for=6.6.6.6;proto=https\r\n",
    );
    assert_eq!(
        text,
        r#"Some(127.0.0.1) http Some("app.internal:8000") http://app.internal:8000/who"#
    );
}

#[test]
fn with_one_trusted_hop_the_right_most_values_are_used() {
    let trusted = TrustedProxies {
        x_for: 1,
        x_proto: 1,
        x_host: 1,
        ..TrustedProxies::default()
    };
    let server = TestServer::start(app(trusted));
    // The client forged the left values; the proxy appended the right ones.
    let text = who(
        &server,
        "X-Forwarded-For: 6.6.6.6, 203.0.113.9\r\nX-Forwarded-Proto: http, https\r\n\
         X-Forwarded-Host: evil.example, shop.example\r\n",
    );
    assert_eq!(
        text,
        r#"Some(203.0.113.9) https Some("shop.example") https://shop.example/who"#
    );
    // Malformed values are ignored, not trusted because present.
    let text = who(
        &server,
        "X-Forwarded-For: not-an-address\r\nX-Forwarded-Proto: gopher\r\n",
    );
    assert_eq!(
        text,
        r#"Some(127.0.0.1) http Some("app.internal:8000") http://app.internal:8000/who"#
    );
}

#[test]
fn forwarded_and_prefix() {
    let trusted = TrustedProxies {
        x_prefix: 1,
        forwarded: 1,
        ..TrustedProxies::default()
    };
    let server = TestServer::start(app(trusted));
    let text = who(
        &server,
        "Forwarded: for=\"[2001:db8::7]:4711\";proto=https;host=shop.example\r\n\
         X-Forwarded-Prefix: /store\r\n",
    );
    assert_eq!(
        text,
        r#"Some(2001:db8::7) https Some("shop.example") https://shop.example/store/who"#
    );
}

#[test]
fn a_proxy_on_a_unix_socket_says_who_the_client_is() {
    let path = std::env::temp_dir().join(format!("carafe-proxy-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let trusted = TrustedProxies {
        x_for: 1,
        ..TrustedProxies::default()
    };
    let server = app(trusted)
        .bind(format!("unix:{}", path.display()))
        .unwrap();
    let stop = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    let ask = |headers: &str| {
        use std::io::{Read, Write};
        let mut stream = UnixStream::connect(&path).unwrap();
        write!(
            stream,
            "GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response.split("\r\n\r\n").nth(1).unwrap().to_owned()
    };
    assert!(ask("X-Forwarded-For: 198.51.100.4\r\n").starts_with("Some(198.51.100.4) "));
    assert!(
        ask("").starts_with("None "),
        "a Unix peer has no address of its own"
    );
    stop.shutdown();
    thread.join().unwrap().unwrap();
}

#[test]
fn the_counts_come_from_the_environment() {
    let mut config = Config::default();
    // Names as documented: CARAFE_PROXY_X_FOR, _X_PROTO, _X_HOST, _X_PORT, _X_PREFIX,
    // _FORWARDED. (Set through a lookup: changing this process's environment is unsafe.)
    let vars = [
        ("T_PROXY_X_FOR", "1"),
        ("T_PROXY_X_PROTO", "2"),
        ("T_PROXY_FORWARDED", "1"),
    ];
    config
        .apply_vars("T", |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
    assert_eq!(
        config.trusted_proxies,
        TrustedProxies {
            x_for: 1,
            x_proto: 2,
            forwarded: 1,
            ..TrustedProxies::default()
        }
    );
}
