//! A stream that keeps the first bytes it reads, so that a server answering the handshake with
//! something else (plain HTTP, say) can be quoted in the error, and that marks the end of the
//! connect phase when the first bytes leave.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite};

use crate::error::Phase;
use crate::fetch::Progress;

/// A stream that keeps a copy of the first bytes read from it, so that a server answering the
/// handshake with plain HTTP can be quoted in the error. Its first write that succeeds (the
/// ClientHello, which waits for the connection to complete) moves `progress` into
/// [`Phase::Tls`].
#[derive(Debug)]
pub(crate) struct Recording<'p, S> {
    inner: S,
    pub(super) first: [u8; 40],
    pub(super) len: u8,
    /// Until the first write: the exchange to tell that the connection is up.
    connecting: Option<&'p Progress>,
}

impl<'p, S> Recording<'p, S> {
    pub(super) fn new(inner: S, progress: &'p Progress) -> Recording<'p, S> {
        Recording {
            inner,
            first: [0; 40],
            len: 0,
            connecting: Some(progress),
        }
    }

    fn wrote<T>(&mut self, written: &Poll<io::Result<T>>) {
        if let Poll::Ready(Ok(_)) = written
            && let Some(progress) = self.connecting.take()
        {
            progress.enter(Phase::Tls);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<'_, S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let n = futures_lite::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let have = this.len as usize;
        if have < this.first.len() {
            let take = n.min(this.first.len() - have);
            this.first[have..have + take].copy_from_slice(&buf[..take]);
            this.len += take as u8;
        }
        Poll::Ready(Ok(n))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<'_, S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(&written);
        written
    }

    /// Passed through, not left to the default (which writes the first slice only): rustls
    /// hands its records over as one vectored write, so the client's last flight (the
    /// ChangeCipherSpec, Finished and the request's record) leaves in one `writev` and one
    /// segment rather than three `sendto`s and, with TCP_NODELAY, three segments for the
    /// server to take in (client and nginx CPU per handshake both drop).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(&written);
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that notes how many slices each write brought.
    struct Slices(Vec<usize>);

    impl AsyncWrite for Slices {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.0.push(bufs.len());
            Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn records_go_out_in_one_vectored_write() {
        let progress = Progress::new();
        let mut stream = Recording::new(Slices(Vec::new()), &progress);
        let records: [&[u8]; 3] = [b"change cipher spec", b"finished", b"request"];
        let bufs = records.map(io::IoSlice::new);
        let written = futures_lite::future::block_on(futures_lite::AsyncWriteExt::write_vectored(
            &mut stream,
            &bufs,
        ))
        .unwrap();
        assert_eq!(written, 33);
        assert_eq!(stream.inner.0, [3]);
        assert_eq!(progress.phase(), Phase::Tls);
    }
}
