//! The Bolt client: [`ConnectionSettings`] (where and as whom, the password a [`Secret`]) and
//! [`Client`], a synchronous wrapper around `neo4rs` with its own small tokio runtime, so async
//! stays inside this module. Every driver error is classified here, once, into a
//! [`Neo4jError`]. Server processes are `server`'s business, not this module's.

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

    /// The driver, for callers that stream (use with [`Client::block_on`]).
    pub fn graph(&self) -> &neo4rs::Graph {
        &self.graph
    }

    /// Runs a future on this client's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
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
        let detail = e.to_string();
        match &e {
            neo4rs::Error::AuthenticationError(_) => Neo4jError::Auth {
                uri: self.uri.clone(),
                user: self.user.clone(),
                detail,
            },
            neo4rs::Error::Neo4j(n) if n.code().starts_with("Neo.ClientError.Security.") => {
                Neo4jError::Auth {
                    uri: self.uri.clone(),
                    user: self.user.clone(),
                    detail,
                }
            }
            neo4rs::Error::IOError { .. }
            | neo4rs::Error::ConnectionError
            | neo4rs::Error::ConnectionTimedOut
            | neo4rs::Error::ProtocolMismatch(_)
            | neo4rs::Error::UnsupportedVersion(..) => Neo4jError::Unreachable {
                uri: self.uri.clone(),
                detail,
            },
            _ => Neo4jError::Query {
                uri: self.uri.clone(),
                cypher: shorten(cypher, 300),
                detail,
            },
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
