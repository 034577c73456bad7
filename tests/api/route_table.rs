//! The route table is the single source: serverless.yml must match it (each function's
//! handler names its route or job, and every function runs the one artifact), and the jobs
//! list (scheduled and queue-fed functions) too.

use std::collections::BTreeSet;
use tucano_shared::routes::{Trigger, JOBS, ROUTES};

fn table() -> BTreeSet<(String, String, String)> {
    ROUTES.iter().map(|r| (r.function.to_owned(), r.method.to_owned(), r.path.to_owned())).collect()
}

fn all_functions() -> BTreeSet<String> {
    ROUTES.iter().map(|r| r.function).chain(JOBS.iter().map(|j| j.function)).map(str::to_owned).collect()
}

fn serverless() -> serde_yaml::Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/serverless.yml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn serverless_yml_declares_exactly_the_routes_of_the_table() {
    let doc = serverless();
    let mut declared = BTreeSet::new();
    let mut names = BTreeSet::new();
    for (name, function) in doc["functions"].as_mapping().unwrap() {
        let name = name.as_str().unwrap().to_owned();
        let events = function["events"].as_sequence().map(Vec::as_slice).unwrap_or_default();
        for event in events.iter().filter_map(|e| e.get("httpApi")) {
            let method = event["method"].as_str().unwrap().to_uppercase();
            let path = event["path"].as_str().unwrap().to_owned();
            declared.insert((name.clone(), method, path));
        }
        assert_eq!(function["handler"].as_str(), Some(name.as_str()), "{name}'s handler names its route or job");
        assert!(function.get("package").is_none(), "{name} has a package of its own");
        names.insert(name);
    }
    assert_eq!(
        doc["package"]["artifact"].as_str(),
        Some("${env:TUCANO_ARTIFACTS, 'target/lambda'}/bootstrap/bootstrap.zip"),
        "one artifact for every function"
    );
    assert!(doc["package"].get("individually").is_none());
    assert_eq!(declared, table());
    assert_eq!(names, all_functions(), "every function is a route or a job");
}

#[test]
fn jobs_are_declared_with_their_triggers() {
    let doc = serverless();
    for job in JOBS {
        let events = doc["functions"][job.function]["events"].as_sequence().map(Vec::as_slice).unwrap_or_default();
        match job.trigger {
            Trigger::Deploy => {
                let token = &doc["resources"]["Resources"]["Migrations"]["Properties"]["ServiceToken"];
                assert_eq!(token["Fn::GetAtt"][0].as_str(), Some("MigrateLambdaFunction"));
                assert!(events.is_empty());
                continue;
            }
            Trigger::Operator => {
                assert!(events.is_empty(), "{} is invoked by operators only", job.function);
                continue;
            }
            _ => assert_eq!(events.len(), 1, "{}", job.function),
        }
        match job.trigger {
            Trigger::Schedule(rate) => assert_eq!(events[0]["schedule"].as_str(), Some(rate), "{}", job.function),
            Trigger::Queue(queue) => {
                let sqs = &events[0]["sqs"];
                assert_eq!(sqs["arn"]["Fn::GetAtt"][0].as_str(), Some(queue), "{}", job.function);
                assert_eq!(sqs["functionResponseType"].as_str(), Some("ReportBatchItemFailures"));
                let q = &doc["resources"]["Resources"][queue];
                assert_eq!(q["Type"].as_str(), Some("AWS::SQS::Queue"));
                assert!(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"].is_mapping(), "{queue} has a DLQ");
            }
            Trigger::Deploy | Trigger::Operator => {}
        }
    }
}

/// An entry's policy as printed: its KMS purposes, then its secrets (the rail's).
fn both(json: &serde_json::Value) -> serde_json::Value {
    let mut all = json["keys"].as_array().unwrap().clone();
    all.extend(json["secrets"].as_array().unwrap().iter().cloned());
    serde_json::Value::Array(all)
}

#[test]
fn tucano_routes_json_prints_every_route_and_job_of_the_table_with_its_settings() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tucano")).args(["routes", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let routes = printed["routes"].as_array().unwrap();
    assert_eq!(routes.len(), ROUTES.len());
    for (json, route) in routes.iter().zip(ROUTES) {
        assert_eq!(json["function"], route.function);
        assert_eq!((json["method"].as_str(), json["path"].as_str()), (Some(route.method), Some(route.path)));
        assert_eq!(json["access"], route.access.name());
        assert_eq!(json["scope"].as_str(), route.access.scope().map(|s| s.as_str()));
        assert_eq!(json["idempotency"], format!("{:?}", route.idempotency));
        assert_eq!(json["quota"], format!("{:?}", route.quota));
        assert_eq!(both(json), serde_json::json!(route.keys), "{}", route.function);
    }
    let jobs = printed["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), JOBS.len());
    for (json, job) in jobs.iter().zip(JOBS) {
        assert_eq!(json["function"], job.function);
        assert_eq!(both(json), serde_json::json!(job.keys), "{}", job.function);
        match job.trigger {
            Trigger::Schedule(arg) | Trigger::Queue(arg) => assert_eq!(json["argument"], arg),
            Trigger::Deploy | Trigger::Operator => assert!(json["argument"].is_null()),
        }
    }
    assert_eq!(printed["cold_start_keys"], serde_json::json!([tucano_shared::app::key_policy::BLIND_INDEX_KEY]));
}

/// The committed OpenAPI document (served at `/openapi.json`) describes exactly the routes
/// of the table, each under its function's operationId and, for merchant routes, with the
/// scope the table requires.
#[test]
fn the_openapi_document_describes_exactly_the_routes_of_the_table() {
    use tucano_shared::routes::Access;
    let doc: serde_json::Value = serde_json::from_str(tucano_shared::handlers::openapi::DOCUMENT).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut described = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let function = op["operationId"].as_str().unwrap().to_owned();
            described.insert((function.clone(), method.to_uppercase(), path.clone()));
            let route =
                ROUTES.iter().find(|r| r.function == function).unwrap_or_else(|| panic!("{function} is no route"));
            let security = &op["security"];
            match route.access {
                Access::Merchant(scope) => {
                    assert_eq!(security, &serde_json::json!([{"OAuth2": [scope.as_str()]}]), "{function}")
                }
                Access::Public | Access::Rail => assert!(
                    security.as_array().is_some_and(|s| s.iter().all(|x| x.get("OAuth2").is_none())),
                    "{function} needs no token"
                ),
            }
            for code in ["500", "503"].iter().filter(|_| function != "oauth_token") {
                assert!(op["responses"].get(*code).is_some(), "{function} documents {code}");
            }
        }
    }
    assert_eq!(described, table(), "the document and the table list the same operations");
    let scopes =
        doc["components"]["securitySchemes"]["OAuth2"]["flows"]["clientCredentials"]["scopes"].as_object().unwrap();
    for scope in tucano_shared::domain::oauth::Scope::ALL {
        assert!(scopes.contains_key(scope.as_str()), "{scope} is documented");
    }
    let text = tucano_shared::handlers::openapi::DOCUMENT;
    assert!(!text.contains("\"pattern\": \"/^"), "Bacen's slashed CPF pattern is fixed");
    let unanchored: Vec<_> =
        text.match_indices("\"pattern\": \"").filter(|(i, m)| !text[i + m.len()..].starts_with('^')).collect();
    assert!(unanchored.is_empty(), "every pattern is anchored");
}
