//! Who may call what, through the real HTTP API: every endpoint against every role, the
//! hash-chained audit log of admin and operator actions, and one error shape for every
//! refusal.

use std::path::Path;
use std::process::Command;

use okno_hub::api::access::{Access, ENDPOINTS};
use okno_hub::auth::{Role, TokenStore};
use okno_hub::cli::serve;
use okno_tests::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn start_hub(dir: &Path, hub_settings: &str) -> String {
    let port = free_port();
    let _sink = Sink::start(port).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let config = write_config_with(
        dir,
        &listen,
        &format!("workers = 2\n{hub_settings}"),
        &one_sink(&Sink::url(port, "r"), 3),
        &[],
    );
    let (_hub, addr) = serve::start(config, Default::default())
        .await
        .expect("the hub starts");
    addr.to_string()
}

/// An endpoint's path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{source}", "mail")
        .replace("{id}", "no-such-message")
        .replace("{name}", "no-such-token")
}

async fn call(addr: &str, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(
        Method::from_bytes(method.as_bytes()).unwrap(),
        format!("http://{addr}{path}"),
    );
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the hub answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_admits_exactly_its_roles() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start_hub(dir.path(), "").await;
    let tokens = tokens_for(&addr);
    let mut checked = 0;
    for endpoint in ENDPOINTS {
        let path = concrete(endpoint.path);
        let allowed: Vec<Role> = match endpoint.access {
            Access::Open | Access::Connector => Role::ALL.to_vec(),
            Access::Roles(roles) => roles.to_vec(),
            Access::BoundSource => vec![Role::Source],
            Access::Metrics => vec![Role::Metrics, Role::Admin],
        };
        let what = format!("{} {}", endpoint.method, endpoint.path);
        let (anonymous, body) = call(&addr, endpoint.method, &path, None).await;
        let (forged, _) = call(
            &addr,
            endpoint.method,
            &path,
            Some("okno_0000000000000000000000000000000000000000000000000000000000000000"),
        )
        .await;
        if endpoint.access == Access::Open {
            assert!(anonymous < 400, "{what} is open, answered {anonymous}");
        } else if endpoint.access == Access::Connector {
            // `mail` takes no webhooks: the door is there, and holds nothing for it.
            assert_eq!(anonymous, 404, "{what} for a token source: {body}");
        } else {
            assert_eq!(anonymous, 401, "{what} without a token: {body}");
            assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
            assert_eq!(forged, 401, "{what} with a forged token");
        }
        for role in Role::ALL {
            let (status, body) = call(
                &addr,
                endpoint.method,
                &path,
                Some(&tokens.get(role.as_str())),
            )
            .await;
            if allowed.contains(&role) {
                assert!(
                    status != 401 && status != 403,
                    "{what} must admit a {role} token, answered {status}: {body}"
                );
            } else {
                assert_eq!(status, 403, "{what} must refuse a {role} token: {body}");
                assert_eq!(body["error"]["code"], "forbidden", "{what}: {body}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, ENDPOINTS.len() * Role::ALL.len());
}

/// The `(METHOD, path)` pairs of every `.route("PATH", get(..).post(..))` in `text`: the
/// method routers named at the top level of the route's second argument.
fn declared_routes(file: &Path, text: &str) -> Vec<(String, String)> {
    const METHODS: &[&str] = &["get", "post", "put", "delete", "patch", "head", "options"];
    let mut routes = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(".route(\"") {
        let after = &rest[at + ".route(\"".len()..];
        let end = after.find('"').expect("a route's path ends");
        let path = after[..end].to_string();
        // The method router: from the comma after the path to the `)` closing `.route(`.
        let expr = &after[end + 1..];
        let (mut depth, mut word, mut methods) = (0i32, String::new(), Vec::new());
        for c in expr.chars() {
            match c {
                '(' | '{' | '[' => {
                    if depth == 0 && !word.is_empty() {
                        assert!(
                            METHODS.contains(&word.as_str()),
                            "{}: route {path}: `{word}(` is no method router this test can read; teach it",
                            file.display()
                        );
                        methods.push(word.to_uppercase());
                    }
                    depth += 1;
                    word.clear();
                }
                ')' | '}' | ']' => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                c if depth == 0 && (c.is_alphanumeric() || c == '_') => word.push(c),
                _ => {
                    if depth == 0 {
                        word.clear();
                    }
                }
            }
        }
        assert!(
            !methods.is_empty(),
            "{}: route {path} names no method",
            file.display()
        );
        for method in methods {
            routes.push((method, path.clone()));
        }
        rest = &after[end..];
    }
    routes
}

fn rust_files(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The role matrix walks the access table; this holds the table to the router itself, so
/// that a route added without a row (which would answer 403 to everyone, untested) fails
/// the suite, as does a row left behind by a removed route.
#[test]
fn every_route_of_the_router_has_exactly_one_access_rule() {
    let mut files = Vec::new();
    rust_files(&workspace().join("hub/src"), &mut files);
    let mut declared = std::collections::BTreeSet::new();
    let mut api_files = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // The hub's API routers carry the hub as their state; others (the demo's
        // recording sink) are other servers.
        if !(text.contains("Router<Arc<Hub>>") || text.contains("fn router(hub: Arc<Hub>)")) {
            continue;
        }
        api_files += 1;
        assert!(
            !text.contains(".nest(") && !text.contains(".route_service("),
            "{}: nested routers and services are not read by this test; teach it",
            file.display()
        );
        for route in declared_routes(&file, &text) {
            assert!(
                declared.insert(route.clone()),
                "{route:?} is declared twice"
            );
        }
    }
    assert!(api_files >= 5, "found only {api_files} router files");
    let listed: std::collections::BTreeSet<(String, String)> = ENDPOINTS
        .iter()
        .map(|e| (e.method.to_string(), e.path.to_string()))
        .collect();
    let without_rule: Vec<_> = declared.difference(&listed).collect();
    let without_route: Vec<_> = listed.difference(&declared).collect();
    assert!(
        without_rule.is_empty(),
        "routes without a row in hub/src/api/access.rs ENDPOINTS: {without_rule:?}"
    );
    assert!(
        without_route.is_empty(),
        "ENDPOINTS rows with no route: {without_route:?}"
    );
    assert_eq!(declared.len(), ENDPOINTS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_and_expired_tokens_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start_hub(dir.path(), "").await;
    let data = dir.path().join("data");
    let store = TokenStore::open(&data);
    let (token, _) = store
        .create("short-lived", Role::Operator, None, None)
        .unwrap();
    assert_eq!(
        call(&addr, "GET", "/v1/messages", Some(&token)).await.0,
        200
    );

    // Expiry: set in the file, as if its time had come.
    let path = data.join("tokens.json");
    let mut file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for t in file["tokens"].as_array_mut().unwrap() {
        if t["name"] == "short-lived" {
            t["expires_at"] = json!(1);
        }
    }
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    assert_eq!(
        call(&addr, "GET", "/v1/messages", Some(&token)).await.0,
        401
    );

    // Revocation by the command line, while the hub runs.
    let (second, _) = store.create("revoked", Role::Operator, None, None).unwrap();
    assert_eq!(
        call(&addr, "GET", "/v1/messages", Some(&second)).await.0,
        200
    );
    let out = okno(&["token", "revoke", "revoked", "--data-dir"], &data);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        call(&addr, "GET", "/v1/messages", Some(&second)).await.0,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_made_public_and_nothing_else_opens() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start_hub(dir.path(), "metrics_public = true").await;
    let (status, _) = call(&addr, "GET", "/metrics", None).await;
    assert_eq!(status, 200);
    assert_eq!(call(&addr, "GET", "/readyz", None).await.0, 200);
    assert_eq!(call(&addr, "GET", "/v1/messages", None).await.0, 401);
    assert_eq!(call(&addr, "GET", "/v1/audit", None).await.0, 401);
}

/// Runs the `okno` command with `args` and `dir` appended.
fn okno(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_okno-under-test"))
        .args(args)
        .arg(dir)
        .output()
        .expect("running okno")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_actions_are_audited_and_tampering_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start_hub(dir.path(), "").await;
    let data = dir.path().join("data");
    let admin = tokens_for(&addr).get("admin");

    // A token issued by the command line while the hub runs works at once.
    let out = okno(
        &[
            "token",
            "create",
            "--role",
            "operator",
            "--name",
            "clerk",
            "--data-dir",
        ],
        &data,
    );
    assert!(out.status.success(), "{out:?}");
    let clerk = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(
        call(&addr, "GET", "/v1/messages", Some(&clerk)).await.0,
        200
    );

    // Actions through the API.
    assert_eq!(
        call(&addr, "POST", "/v1/admin/reload", Some(&admin))
            .await
            .0,
        200
    );
    let created = reqwest::Client::new()
        .post(format!("http://{addr}/v1/admin/tokens"))
        .bearer_auth(&admin)
        .json(&json!({"name": "prometheus", "role": "metrics"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.unwrap();
    let metrics_token = created["token"].as_str().unwrap().to_string();
    assert_eq!(
        call(&addr, "GET", "/metrics", Some(&metrics_token)).await.0,
        200
    );
    assert_eq!(
        call(&addr, "DELETE", "/v1/admin/tokens/prometheus", Some(&admin))
            .await
            .0,
        200
    );
    assert_eq!(
        call(&addr, "GET", "/metrics", Some(&metrics_token)).await.0,
        401
    );
    // The token list never shows a token or its hash.
    let (_, list) = call(&addr, "GET", "/v1/admin/tokens", Some(&admin)).await;
    let listed = list.to_string();
    assert!(
        !listed.contains(&metrics_token) && !listed.contains("sha256"),
        "{listed}"
    );

    let (status, audit) = call(&addr, "GET", "/v1/audit?limit=100", Some(&admin)).await;
    assert_eq!(status, 200, "{audit}");
    let entries = audit["items"].as_array().unwrap();
    let actions: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
            )
        })
        .collect();
    let test_admin = entries
        .iter()
        .find(|e| e["action"] == "reload")
        .map(|e| e["actor"].as_str().unwrap().to_string())
        .unwrap();
    assert!(test_admin.starts_with("test-admin-"), "{actions:?}");
    assert!(
        actions
            .iter()
            .any(|a| a.0.starts_with("cli:") && a.1 == "token.create" && a.2 == "clerk"),
        "{actions:?}"
    );
    assert!(
        actions.contains(&(test_admin.as_str(), "token.create", "prometheus")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&(test_admin.as_str(), "token.revoke", "prometheus")),
        "{actions:?}"
    );
    for pair in entries.windows(2) {
        assert_eq!(
            pair[1]["prev"], pair[0]["hash"],
            "the chain links each entry to the one before"
        );
    }

    // The command verifies the intact log, and names the altered line once changed.
    let out = okno(&["audit", "verify", "--data-dir"], &data);
    assert!(out.status.success(), "{out:?}");
    let log = data.join("audit.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let altered = text.replacen("\"prometheus\"", "\"someone-else\"", 1);
    std::fs::write(&log, &altered).unwrap();
    let out = okno(&["audit", "verify", "--data-dir"], &data);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("was altered"), "{said}");

    // Reordering two entries, and removing one in the middle, are found by the chain.
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 4, "{text}");
    let mut reordered = lines.clone();
    reordered.swap(1, 2);
    std::fs::write(&log, reordered.join("\n") + "\n").unwrap();
    let out = okno(&["audit", "verify", "--data-dir"], &data);
    assert!(!out.status.success(), "a reordered log verified");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("removed or reordered"), "{said}");
    let mut cut = lines.clone();
    cut.remove(1);
    std::fs::write(&log, cut.join("\n") + "\n").unwrap();
    let out = okno(&["audit", "verify", "--data-dir"], &data);
    assert!(
        !out.status.success(),
        "a log with an entry removed verified"
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("removed or reordered"), "{said}");

    // Removing the last entry is found through the head.
    let mut lines = lines;
    lines.pop();
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let out = okno(&["audit", "verify", "--data-dir"], &data);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("removed at the end"));

    // And the untouched log verifies again.
    std::fs::write(&log, &text).unwrap();
    let out = okno(&["audit", "verify", "--data-dir"], &data);
    assert!(out.status.success(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_has_the_one_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start_hub(dir.path(), "").await;
    let operator = tokens_for(&addr).get("operator");
    let client = reqwest::Client::new();
    let cases = [
        // axum's own rejections: a query that does not parse, a path that is not UTF-8.
        ("GET", "/v1/messages?limit=-1", 400),
        // A state no message can be in: refused, not searched for.
        ("GET", "/v1/messages?state=nonsense", 400),
        ("GET", "/v1/messages/%FF%FE", 400),
        // A method the route does not take.
        ("PUT", "/v1/messages", 405),
        ("DELETE", "/healthz", 405),
        ("GET", "/no/such/endpoint", 404),
    ];
    for (method, path, expected) in cases {
        let response = client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("http://{addr}{path}"),
            )
            .bearer_auth(&operator)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = response.text().await.unwrap();
        assert_eq!(status, expected, "{method} {path}: {text}");
        assert!(
            content_type.starts_with("application/json"),
            "{method} {path}: {content_type}"
        );
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        assert!(body["error"]["code"].is_string(), "{method} {path}: {body}");
        assert!(
            !body["error"]["message"].as_str().unwrap_or("").is_empty(),
            "{method} {path}: {body}"
        );
    }
    let response = client
        .get(format!("http://{addr}/v1/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert!(response.headers().get("www-authenticate").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_endpoint_shows_a_client_no_content() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start_hub(dir.path(), "").await;
    let (status, body) = post_mail(
        &addr,
        mail(
            "status-1@example.ru",
            "Ремонт дороги",
            "Иванов Иван Иванович, тел. +7 912 345-67-89: прошу отремонтировать дорогу.",
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["ids"][0].as_str().unwrap().to_string();
    let client_token = tokens_for(&addr).get("client");
    let (status, seen) = call(
        &addr,
        "GET",
        &format!("/v1/status/{id}"),
        Some(&client_token),
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["id"], id.as_str());
    let text = seen.to_string();
    assert!(
        !text.contains("Иванов") && !text.contains("345-67-89") && !text.contains("дорог"),
        "{text}"
    );
    // The same token may not read the appeal itself.
    assert_eq!(
        call(
            &addr,
            "GET",
            &format!("/v1/messages/{id}"),
            Some(&client_token)
        )
        .await
        .0,
        403
    );
}
