//! A stream that keeps the first bytes it reads, so that a server answering the handshake with
//! something else (plain HTTP, say) can be quoted in the error.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite};

/// A stream that keeps a copy of the first bytes read from it, so that a server answering the
/// handshake with plain HTTP can be quoted in the error.
#[derive(Debug)]
pub(crate) struct Recording<S> {
    inner: S,
    pub(super) first: [u8; 40],
    pub(super) len: u8,
}

impl<S> Recording<S> {
    pub(super) fn new(inner: S) -> Recording<S> {
        Recording {
            inner,
            first: [0; 40],
            len: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
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

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
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
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
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
        let mut stream = Recording::new(Slices(Vec::new()));
        let records: [&[u8]; 3] = [b"change cipher spec", b"finished", b"request"];
        let bufs = records.map(io::IoSlice::new);
        let written = futures_lite::future::block_on(futures_lite::AsyncWriteExt::write_vectored(
            &mut stream,
            &bufs,
        ))
        .unwrap();
        assert_eq!(written, 33);
        assert_eq!(stream.inner.0, [3]);
    }
}
