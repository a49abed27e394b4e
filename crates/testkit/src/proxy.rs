//! A TCP proxy between a client and a server on loopback, for fault tests: it forwards bytes
//! both ways until told to cut every connection through it, to stall them (hold the bytes
//! without closing anything), or to slow them (a pause after every small read), as a broken or
//! congested network would.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A proxy listening on its own loopback port, forwarding to `target`. Stops on drop.
#[derive(Debug)]
pub struct Proxy {
    /// The port clients connect to.
    pub port: u16,
    shared: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The sockets of every open connection, both ends, to shut them down on `cut`.
    open: Mutex<Vec<TcpStream>>,
    stalled: AtomicBool,
    /// Microseconds to pause after each read of at most [`SLOW_READ`] bytes (0: full speed).
    slow_micros: AtomicU64,
    refusing: AtomicBool,
    stopped: AtomicBool,
    /// Bumped by `cut`: a forwarding thread of an older generation stops.
    generation: AtomicU64,
}

impl Proxy {
    /// Starts forwarding connections to `127.0.0.1:target`.
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(State::default());
        let state = Arc::clone(&shared);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if state.stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                if state.refusing.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let generation = state.generation.load(Ordering::SeqCst);
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                        continue;
                    };
                    let state = Arc::clone(&state);
                    std::thread::spawn(move || forward(from, to, &state, generation));
                }
                let mut open = state.open.lock().unwrap_or_else(|e| e.into_inner());
                open.push(client);
                open.push(server);
            }
        });
        Proxy { port, shared }
    }

    /// Closes every connection through the proxy now (new ones are still accepted).
    pub fn cut(&self) {
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        let open = std::mem::take(&mut *self.shared.open.lock().unwrap_or_else(|e| e.into_inner()));
        for stream in open {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Holds (true) or releases (false) the bytes of every connection, without closing any.
    pub fn stall(&self, stalled: bool) {
        self.shared.stalled.store(stalled, Ordering::SeqCst);
    }

    /// Slows every connection (a pause after each 4 KiB forwarded), or (None) no longer.
    pub fn slow(&self, pause: Option<Duration>) {
        let micros = pause.map_or(0, |p| p.as_micros().max(1) as u64);
        self.shared.slow_micros.store(micros, Ordering::SeqCst);
    }

    /// Accepts and at once drops new connections (true), or forwards them again (false).
    pub fn refuse(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accepting thread so it sees `stopped`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The most bytes a slowed connection forwards between pauses.
const SLOW_READ: usize = 4096;

/// Copies `from` to `to` until either closes or the proxy cuts this generation.
fn forward(mut from: TcpStream, mut to: TcpStream, state: &State, generation: u64) {
    let mut buf = vec![0u8; 64 << 10];
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    loop {
        if state.generation.load(Ordering::SeqCst) != generation {
            break;
        }
        if state.stalled.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let slow = state.slow_micros.load(Ordering::SeqCst);
        let read_len = if slow > 0 { SLOW_READ } else { buf.len() };
        match from.read(&mut buf[..read_len]) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
                if slow > 0 {
                    std::thread::sleep(Duration::from_micros(slow));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
