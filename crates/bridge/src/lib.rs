//! `sscard-bridge`: the national interface and sscard's JSON-RPC API on a
//! loopback WebSocket, for browser-based counters
//! (`docs/unified-interface.md` section 8). A client layer beside
//! [`sscard`], whose codes, formats and functions it uses; one bus
//! connection for the process.
//!
//! - [`config`]: the TOML file and the command line;
//! - [`national`]: the national dialect;
//! - [`pages`]: the reference pages under `/`;
//! - [`rpc`]: JSON-RPC 2.0 over the D-Bus API, and the notifications.
//!
//! Nothing a request carries (PINs, card data) reaches the log: only the
//! function's or method's name and its result code.

pub mod config;
pub mod national;
pub mod pages;
pub mod rpc;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc};
use tracing::{debug, info, warn};
use zbus::Connection;
use zeroize::Zeroize;

pub use config::{Config, ConfigError};

use sscard::Terminal;

/// What every connection shares.
struct Shared {
    connection: Connection,
    port: u16,
    /// The `Host` values accepted, lower case.
    hosts: Vec<String>,
    /// The origins accepted, lower case: the bridge's own and the configured.
    origins: Vec<String>,
    max_message_bytes: usize,
    idle_timeout: std::time::Duration,
    connections: Arc<Semaphore>,
    events: broadcast::Sender<Arc<str>>,
    pages: pages::Pages,
}

/// A connection's read buffer (tungstenite's default is 128 KiB).
const READ_BUFFER: usize = 4096;
/// What may wait unsent to a page that does not read (backpressure beyond).
const MAX_WRITE_BUFFER: usize = 4 * 1024 * 1024;

/// Binds the configured loopback address.
pub async fn bind(config: &Config) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(config.listen).await
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    config: &Config,
    listener: tokio::net::TcpListener,
    connection: Connection,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    let hosts = ["127.0.0.1", "localhost", "[::1]"].iter().map(|h| format!("{h}:{port}")).collect::<Vec<_>>();
    let mut origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}")).collect();
    origins.extend(config.allowed_origins.iter().cloned());
    let (events, _) = broadcast::channel(64);
    let shared = Arc::new(Shared {
        connection: connection.clone(),
        port,
        hosts,
        origins,
        max_message_bytes: config.max_message_bytes,
        idle_timeout: config.idle_timeout,
        connections: Arc::new(Semaphore::new(config.max_connections)),
        events: events.clone(),
        pages: config.pages_dir.clone().map_or(pages::Pages::BuiltIn, pages::Pages::Dir),
    });
    let signals = tokio::spawn(async move {
        if let Err(e) = forward_signals(connection, events).await {
            warn!("no notifications: cannot follow the daemon's signals: {e}");
        }
    });
    let app = Router::new().fallback(handle).with_state(shared);
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    signals.abort();
    served
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, format!("{why}\n")).into_response()
}

/// Every request: the `Host` check (DNS rebinding) first, then a page or,
/// for a WebSocket handshake at `/`, the `Origin` check and the connection
/// limit.
async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
    if !host.as_ref().is_some_and(|h| shared.hosts.contains(h)) {
        info!("refused a request: its Host is not a loopback name with port {}", shared.port);
        return refuse(StatusCode::FORBIDDEN, "forbidden: the Host header must name this bridge on loopback");
    }
    if !is_upgrade(request.headers()) {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return refuse(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        return pages::serve(&shared.pages, shared.port, request.uri().path()).await;
    }
    if request.uri().path() != "/" {
        return refuse(StatusCode::NOT_FOUND, "not found");
    }
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default().trim_end_matches('/').to_ascii_lowercase();
        if !shared.origins.contains(&origin) {
            info!("refused a WebSocket handshake: its Origin is not allowed");
            return refuse(StatusCode::FORBIDDEN, "forbidden: this Origin is not allowed");
        }
    }
    let Ok(permit) = shared.connections.clone().try_acquire_owned() else {
        info!("refused a WebSocket handshake: too many connections");
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "too many connections");
    };
    let (mut parts, _) = request.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let peer = parts.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0);
    // Small buffers: 1000 idle connections must not hold 128 KiB each.
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(shared.max_message_bytes)
        .max_frame_size(shared.max_message_bytes)
        .on_upgrade(move |socket| session(socket, shared, permit, peer))
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.get(header::UPGRADE).and_then(|u| u.to_str().ok()).is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
}

/// One WebSocket connection: its requests answered in order, the
/// notifications between them.
async fn session(socket: WebSocket, shared: Arc<Shared>, permit: OwnedSemaphorePermit, peer: Option<SocketAddr>) {
    debug!(?peer, "connection opened");
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(32);
    let writer = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut events = shared.events.subscribe();
    let notices = tx.clone();
    let notifier = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(text) => {
                    if notices.send(Message::Text(Utf8Bytes::from(&*text))).await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    let terminal = Terminal::with_connection(shared.connection.clone());
    let hsm = rpc::HsmSessions::default();
    loop {
        let next = match tokio::time::timeout(shared.idle_timeout, stream.next()).await {
            Ok(next) => next,
            Err(_) => {
                debug!(?peer, "idle: closing the connection");
                let _ = tx.send(close(1000, "idle")).await;
                break;
            }
        };
        let message = match next {
            None | Some(Ok(Message::Close(_))) => break,
            Some(Err(e)) => {
                let text = e.to_string();
                debug!(?peer, "reading: {text}");
                if text.contains("limit exceeded") || text.contains("too long") {
                    info!(?peer, "closed a connection: a message over {} bytes", shared.max_message_bytes);
                    let _ = tx.send(close(1009, "message too big")).await;
                }
                break;
            }
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => Utf8Bytes::from(""),
            Some(Ok(_)) => continue,
        };
        let Some(answer) = answer(&shared.connection, &terminal, &hsm, message).await else {
            continue;
        };
        if tx.send(Message::Text(Utf8Bytes::from(answer))).await.is_err() {
            debug!(?peer, "the page left before its answer: dropped");
            break;
        }
    }
    notifier.abort();
    // The HSM sessions this connection held end with it.
    terminal.end_hsm().await;
    hsm.abort_all(&shared.connection).await;
    drop(tx);
    let _ = writer.await;
    drop(permit);
    debug!(?peer, "connection closed");
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))
}

/// The answer to one message, if it wants one (a JSON-RPC notification
/// does not). The message's bytes are wiped once parsed: they may hold a
/// PIN.
async fn answer(
    connection: &Connection,
    terminal: &Terminal,
    hsm: &rpc::HsmSessions,
    message: Utf8Bytes,
) -> Option<String> {
    let parsed = serde_json::from_str::<Value>(message.as_str());
    if let Ok(mut bytes) = bytes::Bytes::from(message).try_into_mut() {
        bytes.as_mut().zeroize();
    }
    let mut request = match parsed {
        Ok(Value::Object(request)) => request,
        Ok(_) => return Some(invalid(rpc::INVALID_REQUEST, "a request is a JSON object")),
        Err(_) => return Some(invalid(rpc::PARSE_ERROR, "not JSON")),
    };
    if request.get("jsonrpc").and_then(Value::as_str) == Some("2.0") {
        return json_rpc(connection, hsm, request).await;
    }
    let Some(function) = request.get("function").and_then(Value::as_str).map(str::to_owned) else {
        return Some(invalid(rpc::INVALID_REQUEST, "neither a JSON-RPC 2.0 request nor a \"function\""));
    };
    let result = match national::RequestPins::take(&mut request) {
        Ok(pins) => national::run(terminal, &function, &request, pins).await,
        Err(failure) => Err(failure),
    };
    debug!(function, code = national::code_of(&result), "national function");
    Some(national::answer(&function, result).to_string())
}

fn invalid(code: i64, message: &str) -> String {
    rpc::response(Value::Null, Err(rpc::RpcError::new(code, message))).to_string()
}

async fn json_rpc(connection: &Connection, hsm: &rpc::HsmSessions, mut request: Map<String, Value>) -> Option<String> {
    let id = request.remove("id");
    let method = request.get("method").and_then(Value::as_str).map(str::to_owned);
    let result = match (method.as_deref(), request.remove("params")) {
        (None, _) => Err(rpc::RpcError::new(rpc::INVALID_REQUEST, "method is missing")),
        (Some(method), None | Some(Value::Null)) => rpc::call(connection, hsm, method, Map::new()).await,
        (Some(method), Some(Value::Object(params))) => rpc::call(connection, hsm, method, params).await,
        (Some(_), Some(_)) => Err(rpc::RpcError::new(rpc::INVALID_PARAMS, "params is an object of named arguments")),
    };
    let error = result.as_ref().err().map(|e| e.name.clone().unwrap_or_else(|| e.code.to_string()));
    debug!(method = method.as_deref().unwrap_or_default(), error, "JSON-RPC method");
    // A request without an id is a notification: run, not answered.
    Some(rpc::response(id?, result).to_string())
}

/// Follows the daemon's signals and broadcasts each as a notification.
async fn forward_signals(connection: Connection, events: broadcast::Sender<Arc<str>>) -> zbus::Result<()> {
    use zbus::OwnedObjectPath;
    // Only the daemon's own signals: any other client on the bus may emit a
    // signal on these paths, and a page must not be told of a card that
    // was never inserted. The bus matches the well-known name against its
    // owner of the moment.
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender(sscard_contract::bus::BUS_NAME)
        .path_namespace("/org/sscard/Daemon")
        .build()?;
    let mut stream = zbus::MessageStream::for_match_rule(rule, &connection, std::num::NonZeroUsize::new(64)).await?;
    while let Some(message) = stream.next().await {
        let Ok(message) = message else { continue };
        let header = message.header();
        let (Some(interface), Some(member), Some(path)) = (header.interface(), header.member(), header.path()) else {
            continue;
        };
        let path = path.as_str();
        let notification = match (interface.as_str(), member.as_str()) {
            ("org.sscard.Reader1", "CardInserted") => {
                let atr: Vec<u8> = message.body().deserialize().unwrap_or_default();
                rpc::notification("CardInserted", serde_json::json!({"reader": path, "atr": hex::encode_upper(atr)}))
            }
            ("org.sscard.Reader1", "CardRemoved") => {
                rpc::notification("CardRemoved", serde_json::json!({"reader": path}))
            }
            ("org.sscard.Manager1", "ReaderAdded") => {
                let Ok((reader, name)) = message.body().deserialize::<(OwnedObjectPath, String)>() else { continue };
                rpc::notification("ReaderAdded", serde_json::json!({"reader": reader.as_str(), "name": name}))
            }
            ("org.sscard.Manager1", "ReaderRemoved") => {
                let Ok(reader) = message.body().deserialize::<OwnedObjectPath>() else { continue };
                rpc::notification("ReaderRemoved", serde_json::json!({"reader": reader.as_str()}))
            }
            _ => continue,
        };
        debug!(member = member.as_str(), "notification");
        // No receiver (no connection) is fine.
        let _ = events.send(Arc::from(notification.to_string()));
    }
    Ok(())
}
