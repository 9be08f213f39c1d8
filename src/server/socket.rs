//! Client sockets driven by readiness with one read per wake-up.
//!
//! A plain tokio stream learns that a socket is drained only from a read that fails with
//! `EAGAIN`, so every request costs a wasted `read` after the useful one. With edge-triggered
//! readiness a short read (fewer bytes than asked for) already proves the socket drained: this
//! wrapper then clears the readiness itself. Tokio clears it only if no newer readiness arrived
//! meanwhile, so no wake-up is lost. Redis's event loop reads once per event the same way.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// A non-blocking socket registered with the runtime.
pub struct Socket<T: AsRawFd> {
    inner: AsyncFd<T>,
}

impl<T: AsRawFd> Socket<T> {
    /// Wraps a socket; it must already be in non-blocking mode. Only std sockets are wrapped
    /// (`TcpStream`, `UnixStream`): they own their descriptor for their whole life.
    pub fn new(socket: T) -> io::Result<Self> {
        // SAFETY: `socket` owns an open descriptor, moved into the AsyncFd, which neither
        // closes nor replaces it until it drops `socket`.
        let inner = unsafe {
            AsyncFd::register_with_interest(socket, Interest::READABLE | Interest::WRITABLE)
        }
        .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Socket { inner })
    }

    fn fd(&self) -> RawFd {
        self.inner.get_ref().as_raw_fd()
    }
}

impl<T: AsRawFd + Unpin> AsyncRead for Socket<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = ready!(this.inner.poll_read_ready(cx))?;
            let fd = this.fd();
            // SAFETY: the bytes handed to `read` are `unfilled` capacity owned by `buf`; `read`
            // writes at most `capacity` of them and we mark exactly the `n` it wrote as
            // initialized.
            let unfilled = unsafe { buf.unfilled_mut() };
            let capacity = unfilled.len();
            let n = unsafe { libc::read(fd, unfilled.as_mut_ptr().cast(), capacity) };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::WouldBlock => {
                        guard.clear_ready();
                        continue;
                    }
                    io::ErrorKind::Interrupted => continue,
                    _ => return Poll::Ready(Err(err)),
                }
            }
            let n = n as usize;
            if n < capacity {
                // A short read drained the socket: wait for the next edge, not for EAGAIN.
                guard.clear_ready();
            }
            // SAFETY: `read` initialized the first `n` bytes of `unfilled`.
            unsafe { buf.assume_init(n) };
            buf.advance(n);
            return Poll::Ready(Ok(()));
        }
    }
}

impl<T: AsRawFd + Unpin> AsyncWrite for Socket<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let fd = this.fd();
            // Try first: a socket is almost always writable, so skip the readiness wait.
            // SAFETY: `data` is a valid slice for the duration of the call.
            let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
            if n >= 0 {
                return Poll::Ready(Ok(n as usize));
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    // Not writable: forget any stale readiness and wait for the next edge
                    // (tokio keeps readiness that arrived after the failed send).
                    let mut guard = ready!(this.inner.poll_write_ready(cx))?;
                    guard.clear_ready();
                }
                _ => return Poll::Ready(Err(err)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // SAFETY: shutting down the write half of a socket we own.
        unsafe { libc::shutdown(self.fd(), libc::SHUT_WR) };
        Poll::Ready(Ok(()))
    }
}
