//! `expman ui` over real HTTP: the JSON API on a recorded experiment (the
//! runs window, filter errors with their caret, a run, curves cut to the
//! chart's width, searches), live runs and their events, stopping a run,
//! and the access rules: the token beyond loopback, the Origin check, the
//! Host check, artifacts that try to leave the workspace.
//!
//! The client is a few lines of HTTP/1.1 over a socket, so that each test
//! sends exactly the headers and the raw path it means to.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{TempDir, bin, expman_in, fake_experiment, wait_until};

/// A running `expman ui`, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    url: String,
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(bin("expman"))
            .args(["ui", "--dir", ".", "--port", "0"])
            .args(extra)
            .current_dir(dir)
            .env_remove("EXPMAN_UI_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start expman ui");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the URL line");
        let url = line.trim().to_string();
        let port = url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .and_then(|hp| hp.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {url:?}"));
        Server { child, port, url }
    }

    fn get(&self, path: &str) -> Response {
        http(self.port, "GET", path, &[("Host", &format!("127.0.0.1:{}", self.port))])
    }

    fn json(&self, path: &str) -> Value {
        let response = self.get(path);
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        response.json()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One request, `Connection: close`, the whole answer read (chunked
/// bodies decoded).
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        request.push_str("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    } else {
        request.push_str("\r\n");
    }
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// An experiment of three finished runs (one a flood of 200,000 points,
/// one with artifacts) recorded in `dir`.
fn recorded(dir: &Path) {
    fake_experiment(
        dir,
        "webui",
        "pipeline: {command: [FAKE, --epochs, 3]}\nmodel: {width: 8}\n",
        "- name: small\n  repeat: 2\n\
         - name: flood\n  settings: {model.width: 64, pipeline.command: [FAKE, --epochs, 1, --flood, 200000]}\n\
         - name: files\n  settings: {pipeline.command: [FAKE, --epochs, 1, --artifact, model.bin, --checkpoints]}\n",
    );
    let out = expman_in(dir, &["run", "."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn run_id(server: &Server, trial: &str) -> String {
    let runs = server.json(&format!("/api/runs?filter=trial%20%3D%20%27{trial}%27&columns=trial"));
    runs["rows"][0][0].as_str().expect("a run").to_string()
}

#[test]
fn the_api_answers_from_the_record() {
    let tmp = TempDir::new("ui-api");
    let dir = tmp.path().join("exp");
    recorded(&dir);
    let server = Server::start(&dir, &[]);
    assert!(server.url.ends_with('/') && !server.url.contains("token"), "no token on loopback: {}", server.url);

    let info = server.json("/api/info");
    assert_eq!(info["experiments"][0]["name"], "webui");
    assert_eq!(info["experiments"][0]["runs"], 4);

    // The page itself, with its security headers.
    let page = server.get("/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("/app.js"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(page.header("content-security-policy").is_some_and(|c| c.contains("default-src 'self'")));
    assert!(page.header("access-control-allow-origin").is_none(), "no CORS");
    assert_eq!(server.get("/app.js").status, 200);

    // A window of the table: filtered, sorted, chosen columns.
    let runs = server
        .json("/api/runs?filter=params.model.width%20%3E%2010&sort=trial&columns=trial,params.model.width&limit=10");
    assert_eq!(runs["total"], 4);
    assert_eq!(runs["matched"], 1);
    assert_eq!(runs["shown"], serde_json::json!(["id", "status", "trial", "params.model.width"]));
    assert_eq!(runs["rows"][0][2], "flood");
    assert_eq!(runs["rows"][0][3], 64);
    let window = server.json("/api/runs?sort=trial&desc=1&offset=1&limit=2&columns=trial");
    let trials: Vec<&str> = window["rows"].as_array().unwrap().iter().map(|r| r[2].as_str().unwrap()).collect();
    assert_eq!(trials, ["small", "flood"], "descending, from the second");

    // A filter error names its place with a caret.
    let bad = server.get("/api/runs?filter=metrics.los%20%3C%201");
    assert_eq!(bad.status, 400);
    let bad = bad.json();
    assert_eq!(bad["kind"], "filter");
    assert_eq!(bad["at"], 0);
    assert!(bad["rendered"].as_str().unwrap().contains("^^^"), "{bad}");
    assert!(bad["error"].as_str().unwrap().contains("metrics.loss"), "suggests the near name: {bad}");

    // One run.
    let small = run_id(&server, "small");
    let run = server.json(&format!("/api/runs/{small}"));
    assert_eq!(run["trial"], "small");
    assert_eq!(run["status"], "SUCCESS");
    assert_eq!(run["config"]["model"]["width"], 8);
    assert!(run["metrics"].as_array().unwrap().iter().any(|m| m["key"] == "loss" && m["count"] == 3), "{run}");
    let log = server.json(&format!("/api/runs/{small}/log?stream=stdout&tail=5"));
    assert_eq!(log["stream"], "stdout");
    assert!(server.get("/api/runs/nosuchrun").status == 404);

    // Curves: 200,000 points come back as at most four per pixel.
    let flood = run_id(&server, "flood");
    let curves = server.json(&format!("/api/curves?runs={flood},{small}&key=loss&width=500"));
    assert_eq!(curves["points_total"].as_u64().unwrap(), 200_000 + 1 + 3);
    let first = &curves["curves"][0];
    let n = first["x"].as_array().unwrap().len();
    assert!((500..=2000).contains(&n), "{n} points for 500 pixels");
    assert_eq!(first["y"].as_array().unwrap().len(), n);
    assert_eq!(first["y"][0], 1.0, "the first point stays");
    let by_trial = server.json(&format!("/api/curves?runs={small}&key=loss&by=trial&x=epoch"));
    assert_eq!(by_trial["by"], "trial");
    assert_eq!(server.get(&format!("/api/curves?runs={small}&key=loss&x=sideways")).status, 400);
    let keys = server.json(&format!("/api/metric-keys?runs={small}"));
    assert!(keys["keys"].as_array().unwrap().iter().any(|k| k == "loss"));

    assert_eq!(server.json("/api/searches")["searches"], serde_json::json!([]));
    assert_eq!(server.get("/api/nothing-here").status, 404);
}

#[test]
fn artifacts_are_served_only_inside_the_workspace() {
    let tmp = TempDir::new("ui-artifacts");
    let dir = tmp.path().join("exp");
    recorded(&dir);
    let server = Server::start(&dir, &[]);
    let files = run_id(&server, "files");
    let got = server.get(&format!("/api/runs/{files}/artifacts/model.bin"));
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, b"fake model weights");
    assert!(got.header("content-disposition").is_some_and(|d| d.starts_with("attachment")));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));

    // Gone from the run's directory: served from the artifact store.
    let run = server.json(&format!("/api/runs/{files}"));
    std::fs::remove_file(Path::new(run["run_dir"].as_str().unwrap()).join("model.bin")).unwrap();
    let stored = server.get(&format!("/api/runs/{files}/artifacts/model.bin"));
    assert_eq!(stored.status, 200, "{}", stored.text());
    assert_eq!(stored.body, b"fake model weights");

    // Not recorded for the run: refused, whatever is on disk.
    for path in ["config.yaml", "../../../env.yaml", "..%2F..%2F..%2Fenv.yaml", "/etc/passwd", "%2Fetc%2Fpasswd"] {
        let refused = server.get(&format!("/api/runs/{files}/artifacts/{path}"));
        assert!(matches!(refused.status, 403 | 404), "{path}: {} {}", refused.status, refused.text());
        assert!(!refused.text().contains("root:"), "{path}");
    }
    // Recorded, but a link out of the workspace now: refused.
    let outside = tmp.path().join("secret.txt");
    std::fs::write(&outside, "not for the web").unwrap();
    let run = server.json(&format!("/api/runs/{files}"));
    let link = Path::new(run["run_dir"].as_str().unwrap()).join("ckpt-0.bin");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let refused = server.get(&format!("/api/runs/{files}/artifacts/ckpt-0.bin"));
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.text().contains("outside the workspace"), "{}", refused.text());
}

#[test]
fn beyond_loopback_every_request_needs_the_token() {
    let tmp = TempDir::new("ui-token");
    let dir = tmp.path().join("exp");
    recorded(&dir);
    let server = Server::start(&dir, &["--host", "0.0.0.0"]);
    let token = server.url.split("?token=").nth(1).expect("the printed URL carries the token").to_string();
    assert_eq!(token.len(), 48);
    let host = format!("192.0.2.7:{}", server.port);
    let without = http(server.port, "GET", "/api/info", &[("Host", &host)]);
    assert_eq!(without.status, 401, "{}", without.text());
    let wrong = http(server.port, "GET", "/api/info?token=0123", &[("Host", &host)]);
    assert_eq!(wrong.status, 401);
    let auth = format!("token {token}");
    let with = http(server.port, "GET", "/api/info", &[("Host", &host), ("Authorization", &auth)]);
    assert_eq!(with.status, 200, "{}", with.text());
    // The printed URL: a cookie, and the token leaves the address bar.
    let opened = http(server.port, "GET", &format!("/?token={token}"), &[("Host", &host)]);
    assert_eq!(opened.status, 303);
    let cookie = opened.header("set-cookie").expect("a cookie").to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap();
    let by_cookie = http(server.port, "GET", "/api/runs?limit=1", &[("Host", &host), ("Cookie", pair)]);
    assert_eq!(by_cookie.status, 200);
    // An SSE stream is refused too.
    assert_eq!(http(server.port, "GET", "/api/events", &[("Host", &host)]).status, 401);

    // A token given on loopback is required there as well.
    let chosen = Server::start(&dir, &["--token", "my-own-token"]);
    assert!(chosen.url.ends_with("?token=my-own-token"), "{}", chosen.url);
    assert_eq!(chosen.get("/api/info").status, 401);
}

#[test]
fn a_live_run_shows_and_stops_but_not_from_another_origin() {
    let tmp = TempDir::new("ui-live");
    let dir = tmp.path().join("exp");
    fake_experiment(
        &dir,
        "live",
        "pipeline: {command: [FAKE, --epochs, 600, --sleep-ms, 100, --respect-stop]}\n",
        "- name: slow\n",
    );
    let mut runner = Command::new(bin("expman"))
        .args(["run", "."])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(30), || dir.join("out/expman.db").exists()), "the run starts");
    let server = Server::start(&dir, &[]);

    let mut id = String::new();
    let going = wait_until(Duration::from_secs(30), || {
        let live = server.json("/api/live");
        match live["runs"].as_array().and_then(|r| r.first()) {
            Some(run) if run["status"] == "RUNNING" && run["epoch"].as_i64().is_some_and(|e| e >= 1) => {
                id = run["id"].as_str().unwrap().to_string();
                true
            }
            _ => false,
        }
    });
    assert!(going, "the run shows as RUNNING with an epoch");

    // The event stream sends it.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n", server.port).unwrap();
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    while !(seen.contains("event: live") && seen.contains(&id)) {
        let n = stream.read(&mut buffer).expect("events keep coming");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    assert!(seen.contains("text/event-stream"), "{seen}");

    let stop = format!("/api/runs/{id}/stop");
    let own = format!("127.0.0.1:{}", server.port);
    let other = http(server.port, "POST", &stop, &[("Host", &own), ("Origin", "http://evil.example")]);
    assert_eq!(other.status, 403, "{}", other.text());
    let bare = http(server.port, "POST", &stop, &[("Host", &own)]);
    assert_eq!(bare.status, 403, "no Origin and no token: {}", bare.text());
    let rebound = http(server.port, "GET", "/api/live", &[("Host", &format!("evil.example:{}", server.port))]);
    assert_eq!(rebound.status, 403, "DNS rebinding: {}", rebound.text());
    assert_eq!(server.json(&format!("/api/runs/{id}"))["status"], "RUNNING", "still going");

    let page = format!("http://127.0.0.1:{}", server.port);
    let stopped = http(server.port, "POST", &stop, &[("Host", &own), ("Origin", &page)]);
    assert_eq!(stopped.status, 200, "{}", stopped.text());
    assert!(stopped.json()["message"].as_str().unwrap().contains("asked its runner"), "{}", stopped.text());
    let ended = wait_until(Duration::from_secs(30), || server.json(&format!("/api/runs/{id}"))["status"] == "KILLED");
    assert!(ended, "the run ends KILLED: {}", server.json(&format!("/api/runs/{id}")));
    let status = runner.wait().unwrap();
    assert!(status.code().is_some(), "the runner exits");
    let recent = server.json("/api/live");
    assert!(recent["recent"].as_array().unwrap().iter().any(|r| r["id"] == id.as_str()), "{recent}");
}
