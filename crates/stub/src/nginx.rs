//! A real nginx on loopback, for interop tests and benchmarks: [`Nginx::find`] finds the
//! binary, [`NginxBuilder`] writes a configuration into a fresh temporary directory (one
//! `server` block per [`Site`], each on its own free port, plain or TLS), starts nginx in the
//! foreground and waits until every port listens; dropping the [`Nginx`] stops it and removes
//! the directory. Nothing of the system's nginx (its configuration, logs, pid file) is touched.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long nginx may take to listen on every port.
const START_LIMIT: Duration = Duration::from_secs(30);

/// How long nginx may take to stop after SIGTERM before it is killed.
const STOP_LIMIT: Duration = Duration::from_secs(5);

/// One `server { }` block of the configuration: a port on 127.0.0.1, plain or TLS, serving
/// the page ([`NginxBuilder::page`]) at `/`.
#[derive(Debug, Clone)]
pub struct Site {
    port: u16,
    tls: Option<(String, String)>,
    directives: String,
    /// Listens on 127.0.0.1 up to 127.0.0.`addresses`.
    addresses: u8,
}

impl Site {
    /// Plain HTTP on a port that is free now.
    pub fn plain() -> io::Result<Site> {
        Ok(Site {
            port: crate::closed_port()?,
            tls: None,
            directives: String::new(),
            addresses: 1,
        })
    }

    /// TLS 1.2 and 1.3 on a port that is free now, with this certificate (chain) and private
    /// key, both PEM-encoded (an [`Identity`](crate::Identity)'s `cert_pem` and `key_pem`, or
    /// files an openssl command made).
    pub fn tls(cert_pem: &str, key_pem: &str) -> io::Result<Site> {
        Ok(Site {
            tls: Some((cert_pem.to_owned(), key_pem.to_owned())),
            ..Site::plain()?
        })
    }

    /// More directives for the block (`location = /go { return 301 ...; }`, say).
    pub fn with(mut self, directives: &str) -> Site {
        self.directives.push_str(directives);
        self.directives.push('\n');
        self
    }

    /// Listens on the port of 127.0.0.1, 127.0.0.2 ... 127.0.0.`n` (at least 1): a client
    /// that closes first leaves its side in TIME_WAIT for a minute, holding one of about 28,000
    /// local ports per destination address, so benchmark rounds that each use an address of
    /// their own do not inherit the ports of the rounds before.
    pub fn on_addresses(mut self, n: u8) -> Site {
        self.addresses = n.max(1);
        self
    }

    /// The port it will listen on, known before the start so that another site can point at it.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// An nginx to start: the binary, the page, the sites. From [`Nginx::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until started"]
pub struct NginxBuilder {
    binary: PathBuf,
    page: String,
    sites: Vec<Site>,
}

impl NginxBuilder {
    /// The HTML every site serves at `/` (`index.html`); [`Nginx::PAGE`] unless set.
    pub fn page(mut self, html: &str) -> NginxBuilder {
        self.page = html.to_owned();
        self
    }

    /// Serves one more site.
    pub fn site(mut self, site: Site) -> NginxBuilder {
        self.sites.push(site);
        self
    }

    /// Writes the configuration, starts nginx and waits until every site's port listens.
    /// Fails with nginx's own words (its stderr and error log) if it exits or does not listen.
    pub fn start(self) -> io::Result<Nginx> {
        if self.sites.is_empty() {
            return Err(io::Error::other("nginx needs at least one site"));
        }
        let dir = scratch_dir()?;
        // Removed when dropped, also if the start fails.
        let mut nginx = Nginx {
            child: None,
            dir,
            ports: self.sites.iter().map(Site::port).collect(),
        };
        let d = nginx.dir.clone();
        fs::create_dir_all(d.join("html"))?;
        fs::write(d.join("html/index.html"), &self.page)?;
        let config = self.config(&d)?;
        fs::write(d.join("nginx.conf"), config)?;
        let stderr = fs::File::create(d.join("stderr.log"))?;
        nginx.child = Some(
            Command::new(&self.binary)
                .arg("-p")
                .arg(&d)
                .arg("-c")
                .arg(d.join("nginx.conf"))
                .args(["-g", "daemon off;"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.binary.display())))?,
        );
        nginx.wait_until_listening()?;
        Ok(nginx)
    }

    /// `nginx.conf`, with every path nginx writes to inside `dir`; writes the TLS files.
    fn config(&self, dir: &Path) -> io::Result<String> {
        let d = dir.display();
        // One worker: the client under test gets the other core. Not `master_process off`,
        // which would be simpler to stop but serves far slower.
        let mut config = format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n"
        );
        for (i, site) in self.sites.iter().enumerate() {
            let (ssl, certificate) = match &site.tls {
                Some((cert, key)) => {
                    fs::write(dir.join(format!("site-{i}.crt")), cert)?;
                    fs::write(dir.join(format!("site-{i}.key")), key)?;
                    (
                        " ssl",
                        format!(
                            " ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate {d}/site-{i}.crt; \
                             ssl_certificate_key {d}/site-{i}.key;"
                        ),
                    )
                }
                None => ("", String::new()),
            };
            let port = site.port;
            config.push_str("  server {");
            for a in 1..=site.addresses {
                let _ = write!(config, " listen 127.0.0.{a}:{port} backlog=4096{ssl};");
            }
            let _ = writeln!(
                config,
                "{certificate} root {d}/html;\n{}  }}",
                site.directives
            );
        }
        config.push_str("}\n");
        Ok(config)
    }
}

/// A running nginx (a master and one worker); dropping it stops nginx and removes its directory.
///
/// ```
/// use std::io::{Read, Write};
/// use tulip_stub::{Nginx, Site};
///
/// let Some(binary) = Nginx::find() else {
///     return Ok(()); // Not installed.
/// };
/// let nginx = Nginx::builder(binary).site(Site::plain()?).start()?;
/// let mut conn = std::net::TcpStream::connect(("127.0.0.1", nginx.port()))?;
/// conn.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
/// let mut reply = String::new();
/// conn.read_to_string(&mut reply)?;
/// assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(reply.ends_with(Nginx::PAGE));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Nginx {
    child: Option<Child>,
    dir: PathBuf,
    ports: Vec<u16>,
}

impl Nginx {
    /// The page sites serve unless [`NginxBuilder::page`] sets another (20 bytes).
    pub const PAGE: &str = "<p>hello, tulip</p>\n";

    /// The nginx binary: `nginx` on `PATH`, else `/usr/sbin/nginx` (where Debian puts it, often
    /// off a user's `PATH`); `None` if neither is there.
    pub fn find() -> Option<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|dir| dir.join("nginx"))
            .chain([PathBuf::from("/usr/sbin/nginx")])
            .find(|p| p.is_file())
    }

    /// An nginx run by `binary`, serving [`Nginx::PAGE`] and no site yet.
    pub fn builder(binary: impl Into<PathBuf>) -> NginxBuilder {
        NginxBuilder {
            binary: binary.into(),
            page: Nginx::PAGE.to_owned(),
            sites: Vec::new(),
        }
    }

    /// The first site's port.
    pub fn port(&self) -> u16 {
        self.ports[0]
    }

    /// Every site's port, in the order the sites were added.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The directory holding the configuration, the page and the logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn wait_until_listening(&mut self) -> io::Result<()> {
        let start = Instant::now();
        for &port in &self.ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                let exited = match &mut self.child {
                    Some(child) => child.try_wait()?,
                    None => None,
                };
                if let Some(status) = exited {
                    return Err(io::Error::other(format!(
                        "nginx exited ({status}): {}",
                        self.logs()
                    )));
                }
                if start.elapsed() > START_LIMIT {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "nginx did not listen on 127.0.0.1:{port} within {START_LIMIT:?}: {}",
                            self.logs()
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// What nginx said: its stderr, then its error log.
    fn logs(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!("{}{}", read("stderr.log"), read("error.log"))
            .trim()
            .to_owned()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM is nginx's fast shutdown: the master takes its worker down with it (a
            // SIGKILL would orphan the worker).
            #[cfg(unix)]
            {
                use rustix::process::{Pid, Signal, kill_process};
                if kill_process(Pid::from_child(&child), Signal::TERM).is_ok() {
                    let start = Instant::now();
                    while start.elapsed() < STOP_LIMIT {
                        if let Ok(Some(_)) = child.try_wait() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A fresh directory for one nginx: named after this process and a counter.
fn scratch_dir() -> io::Result<PathBuf> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("tulip-nginx-{}-{n}", std::process::id()));
    // Left over from an earlier process with the same id: start clean.
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn get(port: u16, path: &str) -> String {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(conn, "GET {path} HTTP/1.0\r\n\r\n").unwrap();
        let mut reply = String::new();
        conn.read_to_string(&mut reply).unwrap();
        reply
    }

    /// The nginx binary; `None` (with a message, so the test is skipped) where it is missing,
    /// unless `CI` is set: there it fails.
    fn binary() -> Option<PathBuf> {
        let found = Nginx::find();
        if found.is_none() {
            assert!(std::env::var_os("CI").is_none(), "nginx is not installed");
            eprintln!("skipped: nginx is not installed (apt-get install nginx-light)");
        }
        found
    }

    #[test]
    fn serves_its_page_and_directives_and_stops_when_dropped() {
        let Some(binary) = binary() else {
            return;
        };
        let other = Site::plain().unwrap();
        let go = format!(
            "location = /go {{ return 301 http://127.0.0.1:{}/; }}",
            other.port()
        );
        let nginx = Nginx::builder(binary)
            .page("<p>x</p>")
            .site(Site::plain().unwrap().with(&go))
            .site(other)
            .start()
            .unwrap();
        let (first, second) = (nginx.ports()[0], nginx.ports()[1]);
        let reply = get(second, "/");
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        assert!(reply.ends_with("\r\n\r\n<p>x</p>"), "{reply}");
        let reply = get(first, "/go");
        assert!(reply.starts_with("HTTP/1.1 301 "), "{reply}");
        assert!(
            reply.contains(&format!("\r\nLocation: http://127.0.0.1:{second}/\r\n")),
            "{reply}"
        );
        let dir = nginx.dir().to_owned();
        drop(nginx);
        assert!(TcpStream::connect(("127.0.0.1", first)).is_err());
        assert!(!dir.exists());
    }

    #[test]
    fn a_configuration_nginx_refuses_is_an_error_in_its_words() {
        let Some(binary) = binary() else {
            return;
        };
        let site = Site::plain().unwrap().with("no_such_directive on;");
        let err = Nginx::builder(binary).site(site).start().unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown directive \"no_such_directive\""),
            "{err}"
        );
    }
}
