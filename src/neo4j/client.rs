//! The Bolt client: [`ConnectionSettings`] (where and as whom, the password a [`Secret`]) and
//! [`Client`], a synchronous wrapper around `neo4rs` with its own small tokio runtime, so async
//! stays inside this module. Callers run queries, read all rows or one value, stream rows
//! ([`Client::for_each_row`]) and send idempotent writes again after transient failures
//! ([`Client::write_with_retry`], [`Retry`]). Every driver error is classified here, once, into a
//! [`Neo4jError`] ([`Neo4jError::is_transient`] follows from it). Server processes are
//! `server`'s business, not this module's.

use std::fmt;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::{Neo4jError, Result};

/// A password: `Debug` and `Display` print `***`; [`Secret::expose`] is the only way out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value, for handing to the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

/// Where and as whom to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    pub uri: String,
    pub user: String,
    pub password: Secret,
    /// `None`: the server's default database.
    pub database: Option<String>,
}

impl ConnectionSettings {
    /// A server with auth disabled (any credentials work): user `neo4j`, empty password.
    pub fn local(uri: impl Into<String>) -> ConnectionSettings {
        ConnectionSettings {
            uri: uri.into(),
            user: "neo4j".into(),
            password: Secret::default(),
            database: None,
        }
    }
}

/// Query parameters: `&[("name", value.into())]`.
pub type Params<'a> = &'a [(&'a str, neo4rs::BoltType)];

/// A synchronous Bolt client: a `neo4rs::Graph` plus its own tokio runtime.
pub struct Client {
    // Field order matters: the graph (and its pooled connections) drops before the runtime.
    graph: neo4rs::Graph,
    runtime: tokio::runtime::Runtime,
    uri: String,
    user: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("uri", &self.uri)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects and checks the connection with `RETURN 1`.
    ///
    /// neo4rs applies its connection timeout to every receive as well, so a long query (a count
    /// over 10M nodes) would fail with a short one: the timeout is long, and a plain TCP probe
    /// with a short timeout first makes an unreachable server fail fast.
    pub fn connect(settings: &ConnectionSettings) -> Result<Client> {
        probe_tcp(&settings.uri, Duration::from_secs(10))?;
        Self::connect_with_timeout(settings, Duration::from_secs(3600))
    }

    /// [`Client::connect`] with an explicit timeout for connecting and for each receive.
    pub fn connect_with_timeout(
        settings: &ConnectionSettings,
        timeout: Duration,
    ) -> Result<Client> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tenantgen-bolt")
            .enable_all()
            .build()
            .map_err(Neo4jError::Runtime)?;
        let mut builder = neo4rs::ConfigBuilder::default()
            .uri(settings.uri.as_str())
            .user(settings.user.as_str())
            .password(settings.password.expose())
            .connection_timeout(timeout)
            .max_connections(4);
        if let Some(db) = &settings.database {
            builder = builder.db(db.as_str());
        }
        let config = builder.build().map_err(|e| Neo4jError::Config {
            uri: settings.uri.clone(),
            detail: e.to_string(),
        })?;
        let graph = {
            let _guard = runtime.enter();
            neo4rs::Graph::connect(config).map_err(|e| Neo4jError::Config {
                uri: settings.uri.clone(),
                detail: e.to_string(),
            })?
        };
        let client = Client {
            graph,
            runtime,
            uri: settings.uri.clone(),
            user: settings.user.clone(),
        };
        let one = client.scalar_i64("RETURN 1 AS one", &[])?;
        if one != 1 {
            return Err(Neo4jError::Unreachable {
                uri: client.uri.clone(),
                detail: format!("`RETURN 1` answered {one}"),
            });
        }
        Ok(client)
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Runs a future on this client's runtime (the async driver stays inside this module).
    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Runs a query and discards its results.
    pub fn run(&self, cypher: &str, params: Params<'_>) -> Result<()> {
        self.run_query(build_query(cypher, params))
    }

    /// Runs a prepared query and discards its results.
    pub fn run_query(&self, query: neo4rs::Query) -> Result<()> {
        let cypher = query.query().to_string();
        self.block_on(self.graph.run(query))
            .map(|_| ())
            .map_err(|e| self.classify(&cypher, e))
    }

    /// All rows of a query.
    pub fn rows(&self, cypher: &str, params: Params<'_>) -> Result<Vec<neo4rs::Row>> {
        self.rows_query(build_query(cypher, params))
    }

    /// All rows of a prepared query.
    pub fn rows_query(&self, query: neo4rs::Query) -> Result<Vec<neo4rs::Row>> {
        let cypher = query.query().to_string();
        self.block_on(async {
            let mut stream = self.graph.execute(query).await?;
            let mut rows = Vec::new();
            while let Some(row) = stream.next().await? {
                rows.push(row);
            }
            Ok::<_, neo4rs::Error>(rows)
        })
        .map_err(|e| self.classify(&cypher, e))
    }

    /// Calls `f` with each row of a read query as it arrives (the driver pulls rows in
    /// batches, so memory stays flat however many rows there are); returns the number of rows.
    /// An error from `f` stops the stream and is returned as it is.
    pub fn for_each_row<E: From<Neo4jError>>(
        &self,
        cypher: &str,
        params: Params<'_>,
        mut f: impl FnMut(neo4rs::Row) -> std::result::Result<(), E>,
    ) -> std::result::Result<u64, E> {
        let query = build_query(cypher, params);
        self.block_on(async {
            let mut stream = self
                .graph
                .execute_read(query)
                .await
                .map_err(|e| self.classify(cypher, e))?;
            let mut n = 0u64;
            while let Some(row) = stream.next().await.map_err(|e| self.classify(cypher, e))? {
                f(row)?;
                n += 1;
            }
            Ok(n)
        })
    }

    /// All rows of an idempotent write, sent again after a transient failure (see
    /// [`Neo4jError::is_transient`]) as `retry` says. The query must be safe to repeat: a
    /// failed attempt may have been committed before its answer was lost.
    pub fn write_with_retry(
        &self,
        retry: &Retry,
        cypher: &str,
        params: Params<'_>,
    ) -> std::result::Result<Vec<neo4rs::Row>, RetryError> {
        retry.run(|| self.rows(cypher, params), std::thread::sleep)
    }

    /// The first column of the single (first) row, as an integer.
    pub fn scalar_i64(&self, cypher: &str, params: Params<'_>) -> Result<i64> {
        self.scalar(cypher, params, "an integer")
    }

    /// The first column of the single (first) row, as a string.
    pub fn scalar_string(&self, cypher: &str, params: Params<'_>) -> Result<String> {
        self.scalar(cypher, params, "a string")
    }

    fn scalar<T: serde::de::DeserializeOwned>(
        &self,
        cypher: &str,
        params: Params<'_>,
        expected: &'static str,
    ) -> Result<T> {
        let rows = self.rows(cypher, params)?;
        let row = rows.into_iter().next().ok_or_else(|| Neo4jError::NoRow {
            uri: self.uri.clone(),
            cypher: cypher.to_string(),
        })?;
        let column = row
            .keys()
            .first()
            .map(|k| k.value.clone())
            .unwrap_or_default();
        row.get::<T>(&column).map_err(|e| Neo4jError::Value {
            uri: self.uri.clone(),
            cypher: cypher.to_string(),
            column,
            expected,
            detail: e.to_string(),
        })
    }

    fn classify(&self, cypher: &str, e: neo4rs::Error) -> Neo4jError {
        classify(&e, &self.uri, &self.user, cypher)
    }
}

/// The one classification of driver errors: what the user is told, and (through the variant)
/// whether [`Neo4jError::is_transient`] and [`Neo4jError::is_out_of_memory`] hold.
fn classify(e: &neo4rs::Error, uri: &str, user: &str, cypher: &str) -> Neo4jError {
    let detail = e.to_string();
    match e {
        neo4rs::Error::AuthenticationError(_) => auth_error(uri, user, detail),
        neo4rs::Error::Neo4j(n) => server_error(n.code(), uri, user, cypher, detail),
        neo4rs::Error::IOError { .. }
        | neo4rs::Error::ConnectionError
        | neo4rs::Error::ConnectionTimedOut => Neo4jError::ConnectionLost {
            uri: uri.to_string(),
            detail,
        },
        neo4rs::Error::ProtocolMismatch(_) | neo4rs::Error::UnsupportedVersion(..) => {
            Neo4jError::Unreachable {
                uri: uri.to_string(),
                detail,
            }
        }
        _ => Neo4jError::Query {
            uri: uri.to_string(),
            cypher: shorten(cypher, 300),
            detail,
        },
    }
}

/// A failure the server reported with a status code (apart from [`classify`] because the
/// driver's error type cannot be built outside the driver, so tests start from the code).
fn server_error(code: &str, uri: &str, user: &str, cypher: &str, detail: String) -> Neo4jError {
    if code.starts_with("Neo.ClientError.Security.") {
        return auth_error(uri, user, detail);
    }
    Neo4jError::Server {
        uri: uri.to_string(),
        cypher: shorten(cypher, 300),
        code: code.to_string(),
        detail,
    }
}

fn auth_error(uri: &str, user: &str, detail: String) -> Neo4jError {
    Neo4jError::Auth {
        uri: uri.to_string(),
        user: user.to_string(),
        detail,
    }
}

/// How [`Client::write_with_retry`] sends a write again: after a transient failure it waits
/// `backoff`, then twice as long before each further attempt, up to `max_retries` retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Retries after the first attempt (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// The wait before the first retry; it doubles for each one after.
    pub backoff: Duration,
    /// Give up at once when the server runs out of memory for the request, because the caller
    /// can split it into smaller ones (load halves a batch); otherwise that error is retried
    /// like any other transient one.
    pub give_up_on_out_of_memory: bool,
}

impl Default for Retry {
    /// 5 retries from 200 ms (200 ms … 3.2 s, 6.2 s in all), out-of-memory retried.
    fn default() -> Self {
        Retry {
            max_retries: 5,
            backoff: Duration::from_millis(200),
            give_up_on_out_of_memory: false,
        }
    }
}

impl Retry {
    /// Calls `attempt` until it succeeds, fails for good, or the retries are used up; `sleep`
    /// waits between attempts (a parameter so that tests need not wait).
    fn run<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T>,
        mut sleep: impl FnMut(Duration),
    ) -> std::result::Result<T, RetryError> {
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let error = match attempt() {
                Ok(v) => return Ok(v),
                Err(error) => error,
            };
            let split = error.is_out_of_memory() && self.give_up_on_out_of_memory;
            if split || attempts > self.max_retries || !error.is_transient() {
                return Err(RetryError {
                    error: Box::new(error),
                    attempts,
                });
            }
            sleep(
                self.backoff
                    .saturating_mul(2u32.saturating_pow(attempts - 1)),
            );
        }
    }
}

/// A write that [`Client::write_with_retry`] gave up on: the last error and the attempts made.
#[derive(Debug, thiserror::Error)]
#[error("{error} (after {attempts} attempt(s))")]
pub struct RetryError {
    // Boxed: `Neo4jError` is already near clippy's limit for an `Err` variant.
    pub error: Box<Neo4jError>,
    /// Attempts made, the failed last one included.
    pub attempts: u32,
}

impl RetryError {
    /// The driver's or the server's own words, without the query (for a per-batch message).
    pub fn detail(&self) -> String {
        match self.error.driver_detail() {
            Some(d) => d.to_string(),
            None => self.error.to_string(),
        }
    }
}

fn build_query(cypher: &str, params: Params<'_>) -> neo4rs::Query {
    neo4rs::query(cypher).params(params.iter().map(|(k, v)| (*k, v.clone())))
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}…")
}

/// Fails fast when nothing listens at the URI's host and port.
fn probe_tcp(uri: &str, timeout: Duration) -> Result<()> {
    use std::net::ToSocketAddrs;
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let hostport = rest.split(['/', '?']).next().unwrap_or(rest);
    let hostport = if hostport
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        hostport.to_string()
    } else {
        format!("{hostport}:7687")
    };
    let unreachable = |detail: String| Neo4jError::Unreachable {
        uri: uri.to_string(),
        detail,
    };
    let addrs: Vec<SocketAddr> = hostport
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve {hostport}: {e}")))?
        .collect();
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(unreachable(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "bolt://127.0.0.1:7687";

    fn kind(e: &Neo4jError) -> &'static str {
        match e {
            Neo4jError::Auth { .. } => "auth",
            Neo4jError::ConnectionLost { .. } => "lost",
            Neo4jError::Unreachable { .. } => "unreachable",
            Neo4jError::Server { .. } => "server",
            Neo4jError::Query { .. } => "query",
            _ => "other",
        }
    }

    #[test]
    fn driver_errors_are_classified_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let cases: Vec<(neo4rs::Error, &str, bool)> = vec![
            (neo4rs::Error::IOError { detail: io }, "lost", true),
            (neo4rs::Error::ConnectionError, "lost", true),
            (neo4rs::Error::ConnectionTimedOut, "lost", true),
            (
                neo4rs::Error::ProtocolMismatch(0x4854_5450),
                "unreachable",
                false,
            ),
            (
                neo4rs::Error::UnsupportedVersion(3, 0),
                "unreachable",
                false,
            ),
            (
                neo4rs::Error::AuthenticationError("bad".into()),
                "auth",
                false,
            ),
            (
                neo4rs::Error::UnexpectedMessage("odd".into()),
                "query",
                false,
            ),
            (neo4rs::Error::ConversionError, "query", false),
        ];
        for (driver, expected, transient) in cases {
            let what = driver.to_string();
            let e = classify(&driver, URI, "neo4j", "RETURN 1");
            assert_eq!(kind(&e), expected, "{what}");
            assert_eq!(e.is_transient(), transient, "{what}");
            assert!(!e.is_out_of_memory(), "{what}");
            assert_eq!(e.driver_detail(), Some(what.as_str()));
        }
    }

    #[test]
    fn server_codes_decide_transient_and_out_of_memory() {
        for (code, expected, transient, oom) in [
            (
                "Neo.TransientError.Transaction.DeadlockDetected",
                "server",
                true,
                false,
            ),
            (
                "Neo.TransientError.Transaction.LockClientStopped",
                "server",
                true,
                false,
            ),
            (
                "Neo.TransientError.General.MemoryPoolOutOfMemoryError",
                "server",
                true,
                true,
            ),
            (
                "Neo.DatabaseError.General.OutOfMemoryError",
                "server",
                false,
                true,
            ),
            (
                "Neo.ClientError.Statement.SyntaxError",
                "server",
                false,
                false,
            ),
            (
                "Neo.ClientError.Schema.ConstraintValidationFailed",
                "server",
                false,
                false,
            ),
            (
                "Neo.ClientError.Security.Unauthorized",
                "auth",
                false,
                false,
            ),
            ("Neo.ClientError.Security.Forbidden", "auth", false, false),
        ] {
            let e = server_error(code, URI, "neo4j", "RETURN 1", format!("`{code}`: no"));
            assert_eq!(kind(&e), expected, "{code}");
            assert_eq!(e.is_transient(), transient, "{code}");
            assert_eq!(e.is_out_of_memory(), oom, "{code}");
        }
    }

    #[test]
    fn new_variants_keep_the_old_messages() {
        let cypher = format!("MATCH (n) WHERE n.x = '{}' RETURN n", "a".repeat(400));
        let server = server_error(
            "Neo.ClientError.Statement.SyntaxError",
            URI,
            "u",
            &cypher,
            "no".into(),
        );
        let query = classify(&neo4rs::Error::ConversionError, URI, "u", &cypher);
        let (server, query) = (server.to_string(), query.to_string());
        assert!(
            server.starts_with("query failed on bolt://127.0.0.1:7687: no\n  query: MATCH"),
            "{server}"
        );
        assert!(server.ends_with('…'), "the query is shortened: {server}");
        assert_eq!(
            server.replace("no\n", ""),
            query.replace("conversion error\n", "")
        );
        let lost = classify(&neo4rs::Error::ConnectionError, URI, "u", "RETURN 1").to_string();
        let unreachable = Neo4jError::Unreachable {
            uri: URI.into(),
            detail: "connection error".into(),
        };
        assert_eq!(lost, unreachable.to_string());
    }

    fn transient() -> Neo4jError {
        server_error(
            "Neo.TransientError.Transaction.DeadlockDetected",
            URI,
            "u",
            "q",
            "deadlock".into(),
        )
    }

    fn out_of_memory() -> Neo4jError {
        server_error(
            "Neo.TransientError.General.MemoryPoolOutOfMemoryError",
            URI,
            "u",
            "q",
            "oom".into(),
        )
    }

    /// Runs `Retry::run` over scripted outcomes; returns the result and the waits in ms.
    fn scripted(
        retry: Retry,
        mut outcomes: Vec<Result<u32>>,
    ) -> (std::result::Result<u32, RetryError>, Vec<u128>) {
        outcomes.reverse();
        let mut waits = Vec::new();
        let result = retry.run(
            || outcomes.pop().unwrap_or_else(|| Err(transient())),
            |d| waits.push(d.as_millis()),
        );
        (result, waits)
    }

    #[test]
    fn retry_backs_off_then_succeeds() {
        let (r, waits) = scripted(
            Retry::default(),
            vec![Err(transient()), Err(transient()), Ok(7)],
        );
        assert_eq!(r.unwrap(), 7);
        assert_eq!(waits, [200, 400]);
    }

    #[test]
    fn retry_gives_up_after_max_retries() {
        let (r, waits) = scripted(Retry::default(), vec![]);
        let e = r.unwrap_err();
        assert_eq!(e.attempts, 6);
        assert_eq!(e.detail(), "deadlock");
        assert_eq!(waits, [200, 400, 800, 1600, 3200]);
    }

    #[test]
    fn retry_stops_at_a_permanent_error() {
        let syntax = server_error(
            "Neo.ClientError.Statement.SyntaxError",
            URI,
            "u",
            "q",
            "bad".into(),
        );
        let (r, waits) = scripted(Retry::default(), vec![Err(syntax)]);
        let e = r.unwrap_err();
        assert_eq!((e.attempts, e.detail().as_str()), (1, "bad"));
        assert!(waits.is_empty());
    }

    #[test]
    fn out_of_memory_is_retried_unless_the_caller_can_split() {
        let (r, waits) = scripted(Retry::default(), vec![Err(out_of_memory()), Ok(1)]);
        assert_eq!((r.unwrap(), waits.len()), (1, 1));
        let split = Retry {
            give_up_on_out_of_memory: true,
            ..Retry::default()
        };
        let (r, waits) = scripted(split, vec![Err(out_of_memory()), Ok(1)]);
        let e = r.unwrap_err();
        assert!(e.error.is_out_of_memory());
        assert_eq!((e.attempts, waits.len()), (1, 0));
    }

    #[test]
    fn secret_never_prints() {
        let s = ConnectionSettings {
            uri: "bolt://x:1".into(),
            user: "neo4j".into(),
            password: Secret::new("hunter2"),
            database: None,
        };
        let shown = format!("{s:?} {}", s.password);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
    }
}
