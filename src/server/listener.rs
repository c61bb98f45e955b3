//! Opening listening sockets: TCP (one per loop where `SO_REUSEPORT` allows), Unix
//! domain sockets, and sockets inherited from the process that started this one
//! (systemd socket activation, `systemfd`).

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use socket2::{Domain, Protocol, Socket, Type};

use crate::server::transport::{ListenAddr, Listener};

/// Binds a nonblocking TCP listener; `reuse_port` lets several loops bind the same address.
pub(crate) fn listen_tcp(
    addr: SocketAddr,
    reuse_port: bool,
    backlog: u32,
) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Restarts can bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if reuse_port {
        #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
        socket.set_reuse_port(true)?;
        #[cfg(not(all(unix, not(any(target_os = "solaris", target_os = "illumos")))))]
        return Err(io::Error::new(io::ErrorKind::Unsupported, "SO_REUSEPORT"));
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog_arg(backlog))?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

fn backlog_arg(backlog: u32) -> i32 {
    backlog.min(i32::MAX as u32) as i32
}

/// Binds a nonblocking Unix listener at `path`, replacing a stale socket file left by a
/// process that died, and giving the socket `mode` if set.
///
/// A file that is not a socket, or a socket someone still accepts on, is never removed:
/// binding fails with `AddrInUse` instead.
pub(crate) fn listen_unix(
    path: &Path,
    mode: Option<u32>,
    backlog: u32,
) -> io::Result<std::os::unix::net::UnixListener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        match UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("another process is listening on {}", path.display()),
                ));
            }
            // Nobody accepts on it: the socket outlived its process.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path)?;
            }
            Err(e) => return Err(e),
        }
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.bind(&socket2::SockAddr::unix(path)?)?;
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    socket.listen(backlog_arg(backlog))?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Sockets handed over by `LISTEN_FDS`, taken once per process.
static INHERITED_TAKEN: AtomicBool = AtomicBool::new(false);

/// The first file descriptor of the `LISTEN_FDS` protocol (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: i32 = 3;

/// The listening sockets this process was started with (systemd's `LISTEN_FDS`, which
/// `systemfd` also sets), if any and not already taken: each as a listener and its
/// address. With `LISTEN_PID` set, they are only ours when it names this process.
pub(crate) fn inherited() -> io::Result<Vec<(Listener, ListenAddr)>> {
    let Some(count) = std::env::var("LISTEN_FDS").ok() else {
        return Ok(Vec::new());
    };
    if let Ok(pid) = std::env::var("LISTEN_PID")
        && pid.trim().parse::<u32>().ok() != Some(std::process::id())
    {
        return Ok(Vec::new());
    }
    let count: i32 = count.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("LISTEN_FDS={count:?} is not a number"),
        )
    })?;
    if count <= 0 || INHERITED_TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(Vec::new());
    }
    (LISTEN_FDS_START..LISTEN_FDS_START + count)
        .map(adopt)
        .collect()
}

/// Takes ownership of an inherited listening socket, once it is known to be one.
fn adopt(fd: i32) -> io::Result<(Listener, ListenAddr)> {
    use std::os::fd::{BorrowedFd, FromRawFd};
    let not_listening = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("inherited descriptor {fd} is not a listening stream socket ({what})"),
        )
    };
    {
        // SAFETY: the descriptor is only borrowed for these checks, which fail cleanly
        // (EBADF, ENOTSOCK) on one that is closed or something else; nothing is closed.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&borrowed);
        if socket.r#type().map_err(|e| not_listening(&e.to_string()))? != Type::STREAM {
            return Err(not_listening("not a stream"));
        }
        if !socket.is_listener()? {
            return Err(not_listening("not listening"));
        }
    }
    // SAFETY: under the LISTEN_FDS protocol the descriptors from 3 on belong to this
    // process and to no other object in it (checked above to be listening sockets, which
    // nothing else here opened); `INHERITED_TAKEN` makes sure they are adopted once, so
    // each gets exactly one owner.
    let socket = unsafe { Socket::from_raw_fd(fd) };
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    let local = socket.local_addr()?;
    if let Some(addr) = local.as_socket() {
        let listener: std::net::TcpListener = socket.into();
        let listener = mio::net::TcpListener::from_std(listener);
        Ok((Listener::Tcp(listener), ListenAddr::Tcp(addr)))
    } else if local.is_unix() {
        let path = local
            .as_pathname()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let listener: std::os::unix::net::UnixListener = socket.into();
        let listener = mio::net::UnixListener::from_std(listener);
        Ok((Listener::Unix(listener), ListenAddr::Unix(path)))
    } else {
        Err(not_listening("neither TCP nor Unix"))
    }
}

/// Opens the listeners for `workers` loops on `addr`: for TCP one per loop on the same
/// port where the system allows, else (and for Unix sockets) one shared by all.
pub(crate) fn open(
    addr: &ListenAddr,
    workers: usize,
    backlog: u32,
    unix_mode: Option<u32>,
) -> io::Result<(Vec<Listener>, ListenAddr)> {
    match addr {
        ListenAddr::Tcp(candidate) => {
            let first = listen_tcp(*candidate, workers > 1, backlog)?;
            let local = first.local_addr()?;
            let mut listeners = vec![first];
            for _ in 1..workers {
                // Own listeners let the kernel spread connections; where SO_REUSEPORT is
                // not available, the loops share one listening socket instead.
                let listener = match listen_tcp(local, true, backlog) {
                    Ok(listener) => listener,
                    Err(_) => listeners[0].try_clone()?,
                };
                listeners.push(listener);
            }
            let listeners = listeners
                .into_iter()
                .map(|l| Listener::Tcp(mio::net::TcpListener::from_std(l)))
                .collect();
            Ok((listeners, ListenAddr::Tcp(local)))
        }
        ListenAddr::Unix(path) => {
            let first = listen_unix(path, unix_mode, backlog)?;
            let listeners = share(
                first,
                workers,
                |l| l.try_clone(),
                |l| Listener::Unix(mio::net::UnixListener::from_std(l)),
            )?;
            Ok((listeners, addr.clone()))
        }
    }
}

/// One listening socket for every loop: clones of the same descriptor.
fn share<L>(
    first: L,
    workers: usize,
    clone: impl Fn(&L) -> io::Result<L>,
    wrap: impl Fn(L) -> Listener,
) -> io::Result<Vec<Listener>> {
    let mut all = Vec::with_capacity(workers);
    for _ in 1..workers {
        all.push(clone(&first)?);
    }
    all.push(first);
    Ok(all.into_iter().map(wrap).collect())
}

/// Clones an inherited listener for each of `workers` loops.
pub(crate) fn share_inherited(listener: Listener, workers: usize) -> io::Result<Vec<Listener>> {
    match listener {
        Listener::Tcp(l) => {
            let std: std::net::TcpListener = l.into();
            share(
                std,
                workers,
                |l| l.try_clone(),
                |l| Listener::Tcp(mio::net::TcpListener::from_std(l)),
            )
        }
        Listener::Unix(l) => {
            let std: std::os::unix::net::UnixListener = l.into();
            share(
                std,
                workers,
                |l| l.try_clone(),
                |l| Listener::Unix(mio::net::UnixListener::from_std(l)),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("carafe-{name}-{}.sock", std::process::id()))
    }

    #[test]
    fn a_stale_socket_is_replaced_a_live_one_is_not() {
        let path = temp_path("stale");
        let _ = std::fs::remove_file(&path);
        let live = listen_unix(&path, None, 16).unwrap();
        let err = listen_unix(&path, None, 16).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        drop(live); // the file stays behind, as after a crash
        assert!(path.exists());
        let again = listen_unix(&path, Some(0o600), 16).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        drop(again);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_left_alone() {
        let path = temp_path("plain");
        std::fs::write(&path, b"precious").unwrap();
        let err = listen_unix(&path, None, 16).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        std::fs::remove_file(&path).unwrap();
    }
}
