//! The CloudFormation template `make package` writes (`serverless package`, offline), checked
//! against the code: the routes are the route table's, every function has its own
//! least-privilege role and an encrypted log group with retention, and the data stores are
//! encrypted, recoverable and private.
//!
//! `make test` packages the template first and sets TUCANO_REQUIRE_TEMPLATE=1, so these
//! fail there if it is missing; a bare `cargo test` without a template skips them.

#[path = "common/certs.rs"]
mod certs;
#[path = "common/moto.rs"]
#[allow(dead_code)]
mod moto;

use serde_json::Value;
use std::collections::BTreeSet;
use tucano_shared::routes::{JOBS, ROUTES};

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/.serverless/cloudformation-template-update-stack.json");

/// Write actions AWS only grants on "*".
const STAR_ACTIONS: [&str; 7] = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
];

fn read_json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

fn packaged(file: &str) -> String {
    format!("{}/.serverless/{file}", env!("CARGO_MANIFEST_DIR"))
}

/// A nested stack: its logical id in the root, its template's file name, its template.
type Nested = (String, String, Value);

/// The packaged root template and its nested stacks.
fn stacks() -> Option<(Value, Vec<Nested>)> {
    if std::fs::metadata(TEMPLATE).is_err() {
        if std::env::var("TUCANO_REQUIRE_TEMPLATE").as_deref() == Ok("1") {
            panic!("no template at {TEMPLATE}: `make package` (or `make test`) writes it")
        }
        eprintln!("skipped: no packaged template (run `make package` or `make test`)");
        return None;
    }
    let root = read_json(TEMPLATE);
    let nested = root["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudFormation::Stack")
        .map(|(id, r)| {
            let file = r["Metadata"]["TucanoNestedTemplate"].as_str().expect("a nested stack names its file");
            (id.clone(), file.to_owned(), read_json(&packaged(file)))
        })
        .collect();
    Some((root, nested))
}

/// A nested template's expression with its parameters replaced by what the root passes.
fn substitute(node: &Value, params: &serde_json::Map<String, Value>) -> Value {
    match node {
        Value::Array(items) => Value::Array(items.iter().map(|n| substitute(n, params)).collect()),
        Value::Object(map) => {
            if let (1, Some(Value::String(p))) = (map.len(), map.get("Ref")) {
                if let Some(expression) = params.get(p) {
                    return expression.clone();
                }
            }
            if let (1, Some(sub)) = (map.len(), map.get("Fn::Sub")) {
                let spelled = |text: &str| {
                    params.iter().fold(text.to_owned(), |text, (p, e)| {
                        let original = match (&e["Ref"], &e["Fn::GetAtt"]) {
                            (Value::String(id), _) => id.clone(),
                            (_, Value::Array(ga)) => format!("{}.{}", ga[0].as_str().unwrap(), ga[1].as_str().unwrap()),
                            _ => return text,
                        };
                        text.replace(&format!("${{{p}}}"), &format!("${{{original}}}"))
                    })
                };
                let sub = match sub {
                    Value::String(text) => Value::String(spelled(text)),
                    Value::Array(parts) => Value::Array(vec![
                        Value::String(spelled(parts[0].as_str().unwrap())),
                        substitute(&parts[1], params),
                    ]),
                    other => other.clone(),
                };
                return serde_json::json!({ "Fn::Sub": sub });
            }
            Value::Object(map.iter().map(|(k, v)| (k.clone(), substitute(v, params))).collect())
        }
        other => other.clone(),
    }
}

/// The stack as deployed, in one piece: the root template with each nested stack's
/// resources inlined back (their parameters replaced by what the root passes; each marked
/// `NestedIn` its stack) and the root's outputs read from them. Every check reads this.
fn inlined(root: &Value, nested: &[Nested]) -> Value {
    let mut t = root.clone();
    for (stack, _, template) in nested {
        let params = root["Resources"][stack]["Properties"]["Parameters"].as_object().unwrap();
        let resources = t["Resources"].as_object_mut().unwrap();
        resources.remove(stack);
        for (id, r) in template["Resources"].as_object().unwrap() {
            let mut r = substitute(r, params);
            r["NestedIn"] = Value::String(stack.clone());
            assert!(resources.insert(id.clone(), r).is_none(), "{id} is in two stacks");
        }
        for (_, output) in t["Outputs"].as_object_mut().unwrap() {
            if output["Value"]["Fn::GetAtt"][0] == stack.as_str() {
                let name = output["Value"]["Fn::GetAtt"][1].as_str().unwrap().trim_start_matches("Outputs.").to_owned();
                output["Value"] = substitute(&template["Outputs"][&name]["Value"], params);
            }
        }
    }
    t
}

fn template() -> Option<Value> {
    stacks().map(|(root, nested)| inlined(&root, &nested))
}

/// The stack a resource of the inlined view lives in (`None`: the root).
fn stack_of<'a>(t: &'a Value, id: &str) -> Option<&'a str> {
    t["Resources"][id]["NestedIn"].as_str()
}

fn of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a String, &'a Value)> {
    t["Resources"].as_object().unwrap().iter().filter(|(_, r)| r["Type"] == ty).collect()
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// Every route of the table, and no API Gateway authorizer in front of any: an HTTP API
/// authorizer answers a token it refuses with 403 {"message":"Forbidden"}, where a standard
/// OAuth client needs the function's own 401 problem to know to fetch a new token.
#[test]
fn the_api_routes_are_the_route_table_and_each_function_checks_its_own_tokens() {
    let Some(t) = template() else { return };
    let mut in_template = BTreeSet::new();
    for (_, r) in of_type(&t, "AWS::ApiGatewayV2::Route") {
        in_template.insert(r["Properties"]["RouteKey"].as_str().unwrap().to_owned());
        assert!(r["Properties"].get("AuthorizerId").is_none(), "{r}");
        assert_ne!(r["Properties"]["AuthorizationType"], "CUSTOM", "{r}");
    }
    let table: BTreeSet<String> = ROUTES.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(in_template, table);
    assert!(of_type(&t, "AWS::ApiGatewayV2::Authorizer").is_empty());
}

#[test]
fn every_function_has_its_own_role_and_no_statement_reaches_everything() {
    let Some(t) = template() else { return };
    let functions = of_type(&t, "AWS::Lambda::Function");
    assert_eq!(functions.len(), ROUTES.len() + JOBS.len());
    let roles: BTreeSet<String> =
        functions.iter().map(|(_, f)| f["Properties"]["Role"]["Fn::GetAtt"][0].as_str().unwrap().to_owned()).collect();
    assert_eq!(roles.len(), functions.len(), "one role per function");
    for (name, role) in of_type(&t, "AWS::IAM::Role") {
        for policy in role["Properties"]["Policies"].as_array().into_iter().flatten() {
            for s in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                let actions: Vec<String> =
                    as_list(&s["Action"]).iter().map(|a| a.as_str().unwrap().to_owned()).collect();
                assert!(actions.iter().all(|a| !a.contains('*')), "{name}: wildcard action in {s}");
                if as_list(&s["Resource"]).iter().any(|r| r == "*") {
                    assert!(actions.iter().all(|a| STAR_ACTIONS.contains(&a.as_str())), "{name}: {s} on *");
                }
            }
        }
    }
}

/// The function's name in the route table -> its execution role's policy statements.
fn statements_by_function(t: &Value) -> Vec<(String, Vec<Value>)> {
    of_type(t, "AWS::Lambda::Function")
        .into_iter()
        .map(|(_, f)| {
            let name = f["Properties"]["FunctionName"].as_str().unwrap().rsplit('-').next().unwrap().to_owned();
            let role = f["Properties"]["Role"]["Fn::GetAtt"][0].as_str().unwrap();
            let policies = t["Resources"][role]["Properties"]["Policies"].as_array().unwrap();
            let statements =
                policies.iter().flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap().clone()).collect();
            (name, statements)
        })
        .collect()
}

#[test]
fn each_function_uses_the_application_key_only_for_the_encryption_purposes_its_entry_lists() {
    use tucano_shared::app::key_policy::{BLIND_INDEX_KEY, RAIL_SECRET, WEBHOOK_SECRET};
    let Some(t) = template() else { return };
    let listed = |name: &str| {
        ROUTES
            .iter()
            .find(|r| r.function == name)
            .map(|r| r.keys)
            .or_else(|| JOBS.iter().find(|j| j.function == name).map(|j| j.keys))
    };
    let by_function = statements_by_function(&t);
    assert_eq!(by_function.len(), ROUTES.len() + JOBS.len());
    for (name, statements) in by_function {
        let keys = listed(&name).unwrap_or_else(|| panic!("{name} is in no table"));
        let on_app_key: Vec<&Value> = statements
            .iter()
            .filter(|s| s["Resource"] == serde_json::json!({"Fn::GetAtt": ["AppDataKey", "Arn"]}))
            .collect();
        // The rail secret is in Secrets Manager, not a KMS purpose; the blind-index key is
        // decrypted by every function that holds it (all but the public ones).
        let holds_index = ROUTES
            .iter()
            .find(|r| r.function == name)
            .map(|r| r.holds_index_key())
            .or_else(|| JOBS.iter().find(|j| j.function == name).map(|j| j.holds_index_key()))
            .unwrap_or(true);
        let index = holds_index.then_some(&BLIND_INDEX_KEY);
        let expected: BTreeSet<String> =
            keys.iter().filter(|k| **k != RAIL_SECRET).chain(index).map(|k| k.to_string()).collect();
        if expected.is_empty() {
            assert!(on_app_key.is_empty(), "{name}: no purpose, no grant on the application key");
            continue;
        }
        assert_eq!(on_app_key.len(), 1, "{name}: one grant on the application key");
        let granted: BTreeSet<String> =
            as_list(&on_app_key[0]["Condition"]["StringEquals"]["kms:EncryptionContext:purpose"])
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
        assert_eq!(granted, expected, "{name}: the key grant is conditioned on its listed purposes");
        // The public functions parse what anyone sends: they hold no key that derives
        // access tokens (the blind-index key), in their grant or their configuration.
        // (The migrations function makes the wrapped key: it is not given one.)
        let wrapped = environment(function_named(&t, &name)).contains_key("BLIND_INDEX_KEY_WRAPPED");
        assert_eq!(wrapped, holds_index && name != "migrate", "{name}: the wrapped index key in its configuration");
        if ["openapi_get", "jwks_get", "payload_get", "payload_cobv_get"].contains(&name.as_str()) {
            assert!(!holds_index, "{name}: a public function holds no index key");
        }
        if ["webhook_relay", "webhook_deliver"].contains(&name.as_str()) {
            assert!(!holds_index, "{name}: the webhook functions (one posts where merchants say) hold no index key");
        }
        if name.starts_with("payload_") || name == "rail_notification" || name.starts_with("cob_") {
            assert!(!granted.contains(WEBHOOK_SECRET), "{name} must not decrypt webhook secrets");
        }
    }
}

#[test]
fn every_function_reaches_the_database_over_tls_with_the_certificate_verified() {
    let Some(t) = template() else { return };
    for (id, f) in of_type(&t, "AWS::Lambda::Function") {
        let url = serde_json::to_string(&f["Properties"]["Environment"]["Variables"]["DATABASE_URL"]).unwrap();
        assert!(url.contains("sslmode=verify-full"), "{id}: {url}");
    }
}

#[test]
fn every_function_logs_to_an_encrypted_group_with_retention_and_is_traced() {
    let Some(t) = template() else { return };
    let groups: Vec<&Value> = of_type(&t, "AWS::Logs::LogGroup").into_iter().map(|(_, g)| g).collect();
    for (name, f) in of_type(&t, "AWS::Lambda::Function") {
        let fname = f["Properties"]["FunctionName"].as_str().unwrap();
        let group = groups
            .iter()
            .find(|g| g["Properties"]["LogGroupName"] == format!("/aws/lambda/{fname}"))
            .unwrap_or_else(|| panic!("{name} has no log group"));
        assert!(group["Properties"]["RetentionInDays"].as_u64().is_some_and(|d| d >= 90), "{name}");
        assert!(group["Properties"]["KmsKeyId"].is_object(), "{name}'s logs are encrypted");
        assert_eq!(f["Properties"]["TracingConfig"]["Mode"], "Active", "{name}");
        assert_eq!(f["Properties"]["Architectures"][0], "arm64");
        assert_eq!(f["Properties"]["VpcConfig"]["SubnetIds"].as_array().unwrap().len(), 3, "{name}: three AZs");
    }
}

#[test]
fn data_is_encrypted_recoverable_and_private() {
    let Some(t) = template() else { return };
    let r = &t["Resources"];
    let table = &r["IdempotencyTable"]["Properties"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    assert_eq!(table["SSESpecification"]["SSEType"], "KMS");
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"], "ttl_epoch");
    let db = &r["DatabaseCluster"]["Properties"];
    assert_eq!(db["StorageEncrypted"], true);
    assert!(db["BackupRetentionPeriod"].as_u64().unwrap() >= 7, "point-in-time recovery window");
    assert_eq!(db["ManageMasterUserPassword"], true, "credentials in Secrets Manager");
    assert_eq!(r["DatabaseProxy"]["Properties"]["RequireTLS"], true);
    for (_, i) in of_type(&t, "AWS::RDS::DBInstance") {
        assert_eq!(i["Properties"]["PubliclyAccessible"], false);
    }
    for (name, k) in of_type(&t, "AWS::KMS::Key") {
        // KMS rotates symmetric keys only; the asymmetric signing key rotates by publishing
        // a new key beside it.
        let symmetric = k["Properties"].get("KeySpec").is_none_or(|s| s == "SYMMETRIC_DEFAULT");
        assert_eq!(k["Properties"]["EnableKeyRotation"], symmetric, "{name}");
    }
    for (name, q) in of_type(&t, "AWS::SQS::Queue") {
        assert!(q["Properties"]["KmsMasterKeyId"].is_object(), "{name}");
    }
    assert!(r["WebhookQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"].is_object());
    let migrations = &r["Migrations"]["Properties"]["ServiceToken"]["Fn::GetAtt"][0];
    assert_eq!(migrations, "MigrateLambdaFunction", "migrations run on every deploy");
}

#[test]
fn api_functions_deploy_by_canary_and_roll_back_on_alarms() {
    let Some(t) = template() else { return };
    let groups = of_type(&t, "AWS::CodeDeploy::DeploymentGroup");
    assert_eq!(groups.len(), ROUTES.len());
    for (name, g) in groups {
        let p = &g["Properties"];
        assert!(p["AlarmConfiguration"]["Alarms"].as_array().is_some_and(|a| a.len() >= 2), "{name}");
        let events = p["AutoRollbackConfiguration"]["Events"].as_array().unwrap();
        assert!(events.iter().any(|e| e == "DEPLOYMENT_STOP_ON_ALARM"), "{name}");
        // The functions payers' banks call roll back on what those banks are answered too.
        let public = ["PayloadUnderscoreget", "PayloadUnderscorecobvUnderscoreget", "JwksUnderscoreget"]
            .iter()
            .any(|f| name.as_str() == format!("{f}LambdaFunctionDeploymentGroup"));
        let watches_public = p["AlarmConfiguration"]["Alarms"].to_string().contains("PublicApi5xxAlarm");
        assert_eq!(watches_public, public, "{name}");
    }
    // That alarm counts the location API's 5xx where it exists (the main API's otherwise).
    let public = &t["Resources"]["PublicApi5xxAlarm"]["Properties"];
    assert_eq!(
        public["Dimensions"][0]["Value"],
        serde_json::json!({"Fn::If": ["HasApiDomain", {"Ref": "LocationApi"}, {"Ref": "HttpApi"}]})
    );
    // Without a domain it counts what Api5xxAlarm does: one e-mail is enough.
    assert_eq!(public["AlarmActions"], serde_json::json!({"Fn::If": ["HasApiDomain", [{"Ref": "AlarmTopic"}], []]}));
    let body = t["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"].as_str().unwrap();
    for needle in [
        "Lambda errors",
        "API 4xx / 5xx",
        "DynamoDB throttles",
        "RDS Proxy",
        "Pix received",
        "Webhooks",
        "Server errors",
    ] {
        assert!(body.contains(needle), "the dashboard shows {needle}");
    }
}

#[test]
fn the_reconcilers_gauges_alarm_when_they_stay_above_zero() {
    let Some(t) = template() else { return };
    // The gauges the reconciler emits on every pass (app::reconcile), from its own function:
    // reversing notifications unjudged for half an hour, orders left over for a quarter.
    for (alarm, metric, minutes) in [
        ("RailVerdictsWaitingAlarm", "RailVerdictsWaiting", 30),
        ("ReconcilerBacklogAlarm", "ReconcilerOrdersLeft", 15),
    ] {
        let a = &t["Resources"][alarm]["Properties"];
        assert_eq!((a["Namespace"].as_str(), a["MetricName"].as_str()), (Some("Tucano"), Some(metric)));
        assert!(a["Dimensions"][0]["Value"].as_str().is_some_and(|f| f.ends_with("-reconciler")), "{a}");
        assert_eq!((a["Statistic"].as_str(), a["EvaluationPeriods"].as_u64()), (Some("Minimum"), Some(minutes)));
        assert_eq!(a["AlarmActions"], serde_json::json!([{"Ref": "AlarmTopic"}]));
    }
}

#[test]
fn the_dashboards_error_panels_read_every_functions_logs_and_alarms_reach_someone() {
    let Some(t) = template() else { return };
    let body = t["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"].as_str().unwrap();
    let body: Value = serde_json::from_str(body).unwrap();
    let queries: Vec<&str> = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["type"] == "log")
        .map(|w| w["properties"]["query"].as_str().unwrap())
        .collect();
    for title_query in ["status >= 500", "request failed"] {
        let panels: Vec<&&str> = queries.iter().filter(|q| q.contains(title_query)).collect();
        for q in &panels {
            // Logs Insights reads at most 50 log groups per query; the route is a span field.
            assert!(q.matches("SOURCE '").count() <= 50, "{q}");
            assert!(q.contains("span.route"), "{q}");
        }
        for f in ROUTES.iter().map(|r| r.function).chain(JOBS.iter().map(|j| j.function)) {
            let group = format!("-{f}'");
            assert!(panels.iter().any(|q| q.contains(&group)), "{title_query}: {f}'s logs are read");
        }
    }
    let (_, subscription) = of_type(&t, "AWS::SNS::Subscription")
        .into_iter()
        .find(|(_, s)| s["Properties"]["TopicArn"] == serde_json::json!({"Ref": "AlarmTopic"}))
        .expect("the alarm topic has a subscription");
    assert_eq!(subscription["Condition"], "HasAlarmEmail");
    assert_eq!(subscription["Properties"]["Protocol"], "email");
}

/// Where serverless packaged each function's code from: its own `package.artifact`, or the
/// service's (as configured, its variables resolved).
fn local_artifacts() -> Vec<(String, std::path::PathBuf)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/.serverless/serverless-state.json");
    let state: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let service = state["service"]["initialServerlessConfig"]["package"]["artifact"].as_str();
    state["service"]["functions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, f)| {
            let artifact = f["package"]["artifact"].as_str().or(service).expect("an artifact");
            let p = std::path::Path::new(artifact);
            let p =
                if p.is_absolute() { p.to_owned() } else { std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(p) };
            (name.clone(), p)
        })
        .collect()
}

/// The `bootstrap` executable inside a Lambda zip, extracted into `dir`.
fn unzip_bootstrap(zip: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys, zipfile, os; zipfile.ZipFile(sys.argv[1]).extract('bootstrap', sys.argv[2]); os.chmod(os.path.join(sys.argv[2], 'bootstrap'), 0o755)"])
        .arg(zip)
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir.join("bootstrap")
}

#[test]
fn every_s3_key_in_the_template_stands_for_exactly_one_local_artifact() {
    // The bug this catches: functions whose artifacts share a file name get one S3 key, so
    // each upload overwrote the last and every Lambda ran one function's code.
    let Some(t) = template() else { return };
    let mut by_key: std::collections::BTreeMap<String, BTreeSet<std::path::PathBuf>> = Default::default();
    let artifacts: std::collections::BTreeMap<String, std::path::PathBuf> = local_artifacts().into_iter().collect();
    for (id, f) in of_type(&t, "AWS::Lambda::Function") {
        let key = f["Properties"]["Code"]["S3Key"].as_str().unwrap_or_else(|| panic!("{id} has no S3 key")).to_owned();
        let name = f["Properties"]["FunctionName"].as_str().unwrap().rsplit_once('-').unwrap().1.to_owned();
        assert_eq!(f["Properties"]["Handler"].as_str(), Some(name.as_str()), "{id}'s handler names its route or job");
        by_key.entry(key).or_default().insert(artifacts[&name].clone());
    }
    for (key, files) in &by_key {
        assert_eq!(files.len(), 1, "{key} would be uploaded from {files:?}: each upload overwrites the last");
    }
    assert_eq!(by_key.len(), 1, "one artifact for every function: {by_key:?}");
}

/// Set by `make release-check`, which packages the real release arm64 zip of `make lambdas`
/// (`make test` packages a debug build for the host instead, to check the template quickly).
fn release_artifact() -> bool {
    std::env::var("TUCANO_RELEASE_ARTIFACT").as_deref() == Ok("1")
}

#[test]
fn the_release_artifact_is_built_for_the_architecture_every_function_declares() {
    let Some(t) = template() else { return };
    if !release_artifact() {
        eprintln!("skipped: the packaged artifact is the debug build (`make release-check` checks the release one)");
        return;
    }
    let artifacts: std::collections::BTreeMap<String, std::path::PathBuf> = local_artifacts().into_iter().collect();
    let dir = std::env::temp_dir().join(format!("tucano-arch-{}", uuid::Uuid::new_v4().simple()));
    let mut machines: std::collections::BTreeMap<std::path::PathBuf, u16> = Default::default();
    for (id, f) in of_type(&t, "AWS::Lambda::Function") {
        let architectures = f["Properties"]["Architectures"].as_array().cloned().unwrap_or_default();
        let name = f["Properties"]["FunctionName"].as_str().unwrap().rsplit_once('-').unwrap().1.to_owned();
        let zip = &artifacts[&name];
        let machine = *machines.entry(zip.clone()).or_insert_with(|| {
            let binary = unzip_bootstrap(zip, &dir.join(&name));
            tucano::coldstart::elf_machine(&binary).unwrap()
        });
        let expected = match architectures.first().and_then(Value::as_str) {
            Some("arm64") => tucano::coldstart::EM_AARCH64,
            Some("x86_64") | None => tucano::coldstart::EM_X86_64,
            Some(other) => panic!("{id}: unknown architecture {other}"),
        };
        assert_eq!(machine, expected, "{id} declares {architectures:?} but its code is ELF machine {machine}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Under `make release-check` the arm64 release binary runs under qemu's user-mode emulator
/// on an x86_64 machine (see `tucano::coldstart::launcher`).
#[sqlx::test(migrations = "./migrations")]
async fn the_code_each_packaged_function_gets_answers_that_functions_own_route(pool: sqlx::PgPool) {
    use tucano::coldstart::{event, function_env, start_once};
    let Some(t) = template() else { return };
    let (api_key, url) = merchant_and_database(&pool).await;
    let artifacts: std::collections::BTreeMap<String, std::path::PathBuf> = local_artifacts().into_iter().collect();
    let dir = std::env::temp_dir().join(format!("tucano-artifact-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let txid = "artefatounico000000000000001";
    let key = api_key.expose();
    let calls = [
        (
            "cob_put",
            event(
                "PUT",
                &format!("/v2/cob/{txid}"),
                key,
                Some(r#"{"valor":{"original":"3.21"},"chave":"loja@example.com"}"#),
            ),
            201,
        ),
        ("cob_get", event("GET", &format!("/v2/cob/{txid}"), key, None), 200),
        ("balance_get", event("GET", "/v2/saldo", key, None), 200),
    ];
    for (function, ev, expected) in calls {
        let handler = handler_of(&t, function);
        let binary = unzip_bootstrap(&artifacts[function], &dir.join(function));
        let mut env = function_env(url.as_str());
        env.push(("_HANDLER".into(), handler));
        let start = start_once(&binary, &env, &ev).await.unwrap();
        assert_eq!(start.status, expected, "{function}: {}", start.response);
        let body: Value = serde_json::from_str(start.response["body"].as_str().unwrap()).unwrap();
        match function {
            "cob_put" | "cob_get" => {
                assert_eq!((body["txid"].as_str(), body["valor"]["original"].as_str()), (Some(txid), Some("3.21")))
            }
            _ => assert_eq!(body["disponivel"], "0.00", "{body}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `Handler` the template gives `function`.
fn handler_of(t: &Value, function: &str) -> String {
    of_type(t, "AWS::Lambda::Function")
        .into_iter()
        .find(|(_, f)| f["Properties"]["FunctionName"].as_str().is_some_and(|n| n.ends_with(&format!("-{function}"))))
        .unwrap_or_else(|| panic!("no {function} in the template"))
        .1["Properties"]["Handler"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A merchant (Pix key `loja@example.com`) with an API key, and the URL of the test's
/// database.
async fn merchant_and_database(pool: &sqlx::PgPool) -> (tucano_shared::domain::merchant::ApiKey, url::Url) {
    let api_key = tucano_shared::domain::merchant::ApiKey::generate();
    tucano_shared::ports::MerchantStore::register(
        &tucano_shared::adapters::postgres::PgMerchantStore::new(pool.clone()),
        tucano_shared::ports::NewMerchant {
            name: "Loja".into(),
            city: "RECIFE".into(),
            pix_key: "loja@example.com".into(),
            api_key_hash: api_key.hash(),
            fees: Default::default(),
            individual: false,
            limits: Default::default(),
            first_client: None,
        },
    )
    .await
    .unwrap();
    let db = pool.connect_options().get_database().unwrap().to_owned();
    let mut url = url::Url::parse(&std::env::var("DATABASE_URL").unwrap()).unwrap();
    url.set_path(&format!("/{db}"));
    (api_key, url)
}

/// Signed payloads wired as deployed: the packaged `jwks_get` and `payload_get` start with
/// `PAYLOAD_SIGNING=kms`, read their certificate chain from SSM (moto), check the KMS key
/// against it and sign with it; the key set also publishes the rotating key, at the SSM
/// version the stage pins. Each key under its thumbprint.
#[sqlx::test(migrations = "./migrations")]
async fn the_packaged_payload_functions_sign_with_kms_and_publish_the_pinned_second_key(pool: sqlx::PgPool) {
    use serde_json::json;
    use tucano::coldstart::{event, function_env, start_once};
    use tucano_shared::adapters::aws::{blob_of, Service};
    use tucano_shared::domain::jws::{self, CertificateChain, JwkSet};
    let Some(t) = template() else { return };
    let (api_key, url) = merchant_and_database(&pool).await;
    let moto = moto::Moto::start().await;
    let aws = moto.aws();
    let kms = aws.client(Service::Kms);
    let created = kms.call("CreateKey", &json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"})).await.unwrap();
    let key_id = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let public = kms.call("GetPublicKey", &json!({"KeyId": key_id})).await.unwrap();
    let dir = std::env::temp_dir().join(format!("tucano-kms-wiring-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let chain = certs::chain_for(&blob_of(&public["PublicKey"]).unwrap(), &dir);
    let (_, next) = certs::fresh_key(&dir);
    let ssm = aws.client(Service::Ssm);
    for (name, pem) in [("/tucano/test/payload-cert-chain", &chain), ("/tucano/test/payload-cert-chain-also", &next)] {
        let value = String::from_utf8(pem.clone()).unwrap();
        ssm.call("PutParameter", &json!({"Name": name, "Value": value, "Type": "String"})).await.unwrap();
    }
    let x5t = |pem: &[u8]| CertificateChain::from_pem(pem).unwrap().x5t();

    let artifacts: std::collections::BTreeMap<String, std::path::PathBuf> = local_artifacts().into_iter().collect();
    let run = |function: &'static str, ev: String, expected: u16| {
        let (t, dir, url, endpoint, key_id) = (&t, &dir, &url, &moto.endpoint, &key_id);
        let artifact = artifacts[function].clone();
        async move {
            let binary = unzip_bootstrap(&artifact, &dir.join(function));
            let mut env = function_env(url.as_str());
            env.extend(
                [
                    ("_HANDLER", handler_of(t, function)),
                    ("PAYLOAD_SIGNING", "kms".into()),
                    ("PAYLOAD_KMS_KEY_ID", key_id.clone()),
                    ("PAYLOAD_CERT_CHAIN_PARAMETER", "/tucano/test/payload-cert-chain".into()),
                    ("PAYLOAD_ALSO_PUBLISH_PARAMETER", "/tucano/test/payload-cert-chain-also:1".into()),
                    ("AWS_ENDPOINT_URL", endpoint.clone()),
                    ("AWS_REGION", "sa-east-1".into()),
                    ("AWS_ACCESS_KEY_ID", "test".into()),
                    ("AWS_SECRET_ACCESS_KEY", "test".into()),
                ]
                .map(|(k, v)| (k.to_owned(), v)),
            );
            let start = start_once(&binary, &env, &ev).await.unwrap();
            assert_eq!(start.status, expected, "{function}: {}", start.response);
            let body = start.response["body"].as_str().unwrap();
            // API Gateway decodes a body the function marks base64 (not a text type) before
            // the client sees it.
            if start.response["isBase64Encoded"] == true {
                use base64::Engine;
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(body).unwrap()).unwrap()
            } else {
                body.to_owned()
            }
        }
    };
    let set: JwkSet =
        serde_json::from_str(&run("jwks_get", event("GET", "/.well-known/jwks.json", "", None), 200).await).unwrap();
    let kids: Vec<&str> = set.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, [x5t(&chain), x5t(&next)], "the signing key, then the pinned second one");

    let txid = "assinadokms00000000000000001";
    let body = r#"{"valor":{"original":"4.56"},"chave":"loja@example.com"}"#;
    let cob = run("cob_put", event("PUT", &format!("/v2/cob/{txid}"), api_key.expose(), Some(body)), 201).await;
    assert!(cob.contains(txid), "{cob}");
    let cob: Value = serde_json::from_str(&cob).unwrap();
    let token = cob["location"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let signed = run("payload_get", event("GET", &format!("/qr/v2/{token}"), "", None), 200).await;
    let parsed = jws::parse(&signed).unwrap();
    assert_eq!(parsed.header.kid, x5t(&chain), "signed by the KMS key, under its thumbprint");
    let payload: Value = serde_json::from_slice(&parsed.verify(&set).map(|_| parsed.payload.clone()).unwrap()).unwrap();
    assert_eq!((payload["txid"].as_str(), payload["valor"]["original"].as_str()), (Some(txid), Some("4.56")));
    let _ = std::fs::remove_dir_all(&dir);
}

fn environment(f: &Value) -> &serde_json::Map<String, Value> {
    f["Properties"]["Environment"]["Variables"].as_object().unwrap()
}

fn function_named<'a>(t: &'a Value, name: &str) -> &'a Value {
    of_type(t, "AWS::Lambda::Function")
        .into_iter()
        .find(|(_, f)| f["Properties"]["FunctionName"].as_str().is_some_and(|n| n.ends_with(&format!("-{name}"))))
        .unwrap_or_else(|| panic!("no {name} in the template"))
        .1
}

#[test]
fn no_secret_is_resolved_into_a_functions_configuration() {
    let Some(t) = template() else { return };
    for (id, f) in of_type(&t, "AWS::Lambda::Function") {
        let env = environment(f);
        let text = serde_json::to_string(env).unwrap();
        // Anyone with lambda:GetFunctionConfiguration could read it, and it would go stale
        // on rotation: functions read secrets at run time instead.
        assert!(!text.contains("resolve:secretsmanager"), "{id}: a secret resolved into the environment");
        for name in ["PGPASSWORD", "RAIL_WEBHOOK_SECRET", "RAIL_WEBHOOK_SECRET_PREVIOUS", "TUCANO_DEV_MASTER_KEY"] {
            assert!(!env.contains_key(name), "{id}: {name} in the environment");
        }
        let url = serde_json::to_string(&env["DATABASE_URL"]).unwrap();
        let userinfo = url.split("postgres://").nth(1).and_then(|rest| rest.split('@').next()).unwrap_or("");
        assert!(!userinfo.contains(':'), "{id}: a password in the database URL");
    }
}

#[test]
fn functions_connect_as_the_application_role_with_iam_and_only_migrations_as_the_owner() {
    let Some(t) = template() else { return };
    let reads = |statements: &[Value], needle: &str| {
        statements.iter().any(|s| {
            as_list(&s["Action"]).iter().any(|a| a == "secretsmanager:GetSecretValue")
                && serde_json::to_string(&s["Resource"]).unwrap().contains(needle)
        })
    };
    let mut rail_secret_readers = BTreeSet::new();
    for (name, statements) in statements_by_function(&t) {
        let env = environment(function_named(&t, &name));
        let url = serde_json::to_string(&env["DATABASE_URL"]).unwrap();
        let connects: Vec<String> = statements
            .iter()
            .filter(|s| as_list(&s["Action"]).iter().any(|a| a == "rds-db:connect"))
            .map(|s| serde_json::to_string(&s["Resource"]).unwrap())
            .collect();
        if name == "migrate" {
            // The schema owner, with the password it reads at run time; no IAM user.
            assert!(url.contains("postgres://tucano_admin@"), "{url}");
            assert_eq!(env["DB_IAM_AUTH"], "false");
            assert!(env["DATABASE_PASSWORD_SECRET_ID"].to_string().contains("MasterUserSecret"));
            assert!(connects.is_empty());
        } else if ["openapi_get", "jwks_get"].contains(&name.as_str()) {
            // They read no stored data (a compiled document, published certificates).
            assert!(connects.is_empty(), "{name}: no database user");
        } else {
            assert!(url.contains("postgres://tucano_app@"), "{name}: {url}");
            assert_eq!(env["DB_IAM_AUTH"], "true", "{name}");
            assert_eq!(connects.len(), 1, "{name}: one database user");
            assert!(connects[0].contains("/tucano_app\""), "{name}: {}", connects[0]);
        }
        assert_eq!(reads(&statements, "MasterUserSecret"), name == "migrate", "{name}: the owner's password");
        if reads(&statements, "rail-webhook-secret") {
            rail_secret_readers.insert(name);
        }
    }
    // The rail secret can forge received Pix: only the functions that sign or verify rail
    // messages may read it.
    let expected = [
        "cobr_patch",
        "cobr_post",
        "cobr_put",
        "cobr_retentativa_post",
        "dict_get",
        "rail_notification",
        "rec_patch",
        "reconciler",
        "refund_put",
        "solicrec_patch",
        "solicrec_post",
        "transfer_put",
        "transfer_qr_put",
    ];
    assert_eq!(rail_secret_readers, expected.iter().map(|s| s.to_string()).collect());
    let (_, proxy) = of_type(&t, "AWS::RDS::DBProxy")[0];
    let app_entry = proxy["Properties"]["Auth"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["SecretArn"] == serde_json::json!({"Ref": "AppDatabaseSecret"}))
        .expect("the application role's entry");
    assert_eq!(app_entry["IAMAuth"], "REQUIRED", "the application role authenticates with IAM only");
}

#[test]
fn the_stage_and_the_quota_guarded_routes_are_throttled() {
    use tucano_shared::domain::quota::Quota;
    let Some(t) = template() else { return };
    let stages = of_type(&t, "AWS::ApiGatewayV2::Stage");
    // The API's, and the public payload locations' (made with a custom domain only).
    assert_eq!(stages.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["HttpApiStage", "LocationApiStage"]);
    for (name, stage) in &stages {
        let d = &stage["Properties"]["DefaultRouteSettings"];
        assert!(d["ThrottlingRateLimit"].as_f64().is_some_and(|r| r > 0.0), "{name} is throttled");
    }
    let stage = stages[0].1;
    let defaults = &stage["Properties"]["DefaultRouteSettings"];
    assert!(defaults["ThrottlingRateLimit"].as_f64().unwrap() > 0.0);
    assert!(defaults["ThrottlingBurstLimit"].as_u64().unwrap() > 0);
    let depends: Vec<Value> = as_list(&stage["DependsOn"]);
    for r in ROUTES.iter().filter(|r| r.quota != Quota::Unlimited) {
        let key = format!("{} {}", r.method, r.path);
        let s = &stage["Properties"]["RouteSettings"][&key];
        assert!(
            s["ThrottlingRateLimit"].as_f64().unwrap() < defaults["ThrottlingRateLimit"].as_f64().unwrap(),
            "{key}"
        );
        // API Gateway refuses a route setting whose route does not exist yet.
        let route = of_type(&t, "AWS::ApiGatewayV2::Route")
            .into_iter()
            .find(|(_, x)| x["Properties"]["RouteKey"] == key.as_str())
            .unwrap()
            .0
            .clone();
        let waits_for = stack_of(&t, &route).map(str::to_owned).unwrap_or(route.clone());
        assert!(depends.contains(&Value::String(waits_for)), "the stage waits for {route}");
    }
}

#[test]
fn aurora_logs_no_bind_parameters_of_slow_or_failed_statements() {
    let Some(t) = template() else { return };
    let (_, group) = of_type(&t, "AWS::RDS::DBClusterParameterGroup")[0];
    let p = &group["Properties"]["Parameters"];
    assert_eq!(p["log_parameter_max_length"], "0");
    assert_eq!(p["log_parameter_max_length_on_error"], "0");
    assert_eq!(p["log_error_verbosity"], "terse", "no DETAIL lines, which carry a violated key's value");
    assert!(p["log_min_duration_statement"].is_string(), "slow statements are still logged, without values");
}

/// With the stage's domain parameters, the API answers only on its custom domain with
/// mutual TLS (the execute-api endpoint off), and payload locations — read by payers'
/// banks, which hold no certificate of ours — on a public API of their own that routes
/// nothing else. Without them, none of it exists.
#[test]
fn the_custom_domain_requires_client_certificates_and_only_payload_locations_stay_public() {
    let Some(t) = template() else { return };
    let r = &t["Resources"];
    let api_domain = &r["ApiDomainName"];
    assert_eq!(api_domain["Condition"], "HasApiDomain");
    let mtls = &api_domain["Properties"]["MutualTlsAuthentication"];
    assert_eq!(mtls["TruststoreUri"], serde_json::json!({"Ref": "MtlsTruststoreUri"}));
    assert_eq!(api_domain["Properties"]["DomainNameConfigurations"][0]["SecurityPolicy"], "TLS_1_2");
    assert_eq!(
        r["HttpApi"]["Properties"]["DisableExecuteApiEndpoint"],
        serde_json::json!({"Fn::If": ["HasApiDomain", true, false]}),
        "the default endpoint would bypass the client certificate check"
    );
    assert_eq!(r["ApiDomainMapping"]["Properties"]["ApiId"], serde_json::json!({"Ref": "HttpApi"}));
    assert!(r["LocationDomainName"]["Properties"].get("MutualTlsAuthentication").is_none());
    let public_routes: Vec<_> = of_type(&t, "AWS::ApiGatewayV2::Route")
        .into_iter()
        .filter(|(_, route)| route["Properties"]["ApiId"] == serde_json::json!({"Ref": "LocationApi"}))
        .map(|(_, route)| route["Properties"]["RouteKey"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(public_routes, ["GET /qr/v2/{token}", "GET /qr/v2/cobv/{token}", "GET /.well-known/jwks.json"]);
    // The public location API reaches the functions through their Live alias, as the main
    // API does: a canary deploy shifts (and rolls back) its traffic too.
    for (name, resource) in of_type(&t, "AWS::ApiGatewayV2::Integration") {
        if resource["Properties"]["ApiId"] == serde_json::json!({"Ref": "LocationApi"}) {
            let uri = resource["Properties"]["IntegrationUri"].to_string();
            assert!(uri.contains("LambdaFunctionAliasLive"), "{name}: {uri}");
        }
    }
    for (name, resource) in of_type(&t, "AWS::Lambda::Permission") {
        if name.starts_with("LocationApi") {
            let function = resource["Properties"]["FunctionName"].to_string();
            assert!(function.contains("LambdaFunctionAliasLive"), "{name}: {function}");
        }
    }
    for (name, resource) in r.as_object().unwrap() {
        if name.starts_with("Location") || name.starts_with("ApiDomain") {
            assert_eq!(resource["Condition"], "HasApiDomain", "{name} exists only with a custom domain");
        }
    }
    assert_eq!(t["Parameters"]["ApiDomain"]["Default"], "", "no domain unless the stage gives one");
}

/// Payload locations are signed by an asymmetric KMS key only the payload and key-set
/// functions may use (to sign, and to read its public half), with the PSP's certificate
/// chain read from the stage's SSM parameter.
#[test]
fn only_the_payload_functions_may_sign_with_the_payload_key() {
    let Some(t) = template() else { return };
    let key = &t["Resources"]["PayloadSigningKey"]["Properties"];
    assert_eq!((key["KeySpec"].as_str(), key["KeyUsage"].as_str()), (Some("RSA_2048"), Some("SIGN_VERIFY")));
    let mut signers = vec![];
    for (name, role) in of_type(&t, "AWS::IAM::Role") {
        let text = role["Properties"]["Policies"].to_string();
        if text.contains("kms:Sign") {
            assert!(text.contains("PayloadSigningKey"), "{name} signs with another key");
            signers.push(name.clone());
        }
    }
    signers.sort();
    // The key set (jwks_get) publishes the key's public half and never signs.
    assert_eq!(signers, ["PayloadCobvGetRole", "PayloadGetRole"]);
    assert!(of_type(&t, "AWS::IAM::Role")
        .into_iter()
        .any(|(name, role)| name == "JwksGetRole"
            && role["Properties"]["Policies"].to_string().contains("kms:GetPublicKey")));
    let function = &t["Resources"]["PayloadUnderscoregetLambdaFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(function["PAYLOAD_SIGNING"], "kms");
    // The template's key signs unless the stage names another (a rotation), which the
    // role may then use too; a second chain is published only at the version the stage pins.
    assert_eq!(
        function["PAYLOAD_KMS_KEY_ID"],
        serde_json::json!({"Fn::If": ["HasPayloadKmsKeyArn", {"Ref": "PayloadKmsKeyArn"}, {"Ref": "PayloadSigningKey"}]})
    );
    let chain = &function["PAYLOAD_CERT_CHAIN_PARAMETER"]["Fn::If"];
    assert_eq!(chain[0], "HasPayloadCertChainVersion");
    assert!(chain[1]["Fn::Sub"]
        .as_str()
        .is_some_and(|p| p.ends_with("/payload-cert-chain:${PayloadCertChainVersion}")));
    assert!(chain[2].as_str().is_some_and(|p| p.ends_with("/payload-cert-chain")));
    let also = &function["PAYLOAD_ALSO_PUBLISH_PARAMETER"]["Fn::If"];
    assert_eq!(also[0], "HasPayloadAlsoPublish");
    assert!(also[1]["Fn::Sub"]
        .as_str()
        .is_some_and(|p| p.ends_with("/payload-cert-chain-also:${PayloadAlsoPublishVersion}")));
    assert_eq!(also[2], serde_json::json!({"Ref": "AWS::NoValue"}));
    let policies = t["Resources"]["PayloadGetRole"]["Properties"]["Policies"].to_string();
    assert!(
        policies.contains(r#"{"Fn::If":["HasPayloadKmsKeyArn",{"Ref":"PayloadKmsKeyArn"},{"Ref":"AWS::NoValue"}]}"#)
    );
    assert!(policies.contains("/payload-cert-chain-also\""), "{policies}");
    let other = &t["Resources"]["CobUnderscoreputLambdaFunction"]["Properties"]["Environment"]["Variables"];
    assert!(other.get("PAYLOAD_SIGNING").is_none(), "a charge function has no signing key");
}

/// A resource's dependencies within its own stack (what survives the split unchanged).
fn local_depends(t: &Value, id: &str, r: &Value) -> Vec<String> {
    let mut deps: Vec<String> = as_list(&r["DependsOn"])
        .iter()
        .filter_map(|d| d.as_str())
        .map(|d| match (stack_of(t, id), stack_of(t, d)) {
            // From the root, a moved resource is waited for through its stack.
            (None, Some(stack)) => stack.to_owned(),
            _ => d.to_owned(),
        })
        .filter(|d| stack_of(t, id).is_none() || stack_of(t, d) == stack_of(t, id))
        .collect();
    deps.sort();
    deps.dedup();
    deps
}

#[test]
fn the_nested_stacks_inlined_back_are_the_template_as_compiled() {
    // deploy/nested-stacks.js moves each HTTP function and its companions into a stack of
    // its family, rewriting what crosses the boundary; put back, nothing may differ.
    let Some(t) = template() else { return };
    let flat = read_json(&packaged("cloudformation-template-flat.json"));
    let mut placed = t.clone();
    for (id, r) in placed["Resources"].as_object_mut().unwrap().iter_mut() {
        let deps = local_depends(&t, id, r);
        let r = r.as_object_mut().unwrap();
        r.remove("NestedIn");
        r.remove("DependsOn");
        if !deps.is_empty() {
            r.insert("DependsOn".into(), deps.into());
        }
    }
    let mut expected = flat.clone();
    for (id, r) in expected["Resources"].as_object_mut().unwrap().iter_mut() {
        let deps = local_depends(&t, id, r);
        let r = r.as_object_mut().unwrap();
        r.remove("DependsOn");
        if !deps.is_empty() {
            r.insert("DependsOn".into(), deps.into());
        }
    }
    let ids = |v: &Value| v["Resources"].as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(ids(&placed), ids(&expected));
    for id in ids(&expected) {
        assert_eq!(placed["Resources"][&id], expected["Resources"][&id], "{id}");
    }
    assert_eq!(placed["Outputs"], expected["Outputs"]);
    let nested = t["Resources"].as_object().unwrap().values().filter(|r| r["NestedIn"].is_string()).count();
    assert!(nested > 300, "the HTTP functions are nested ({nested} resources)");
}

#[test]
fn every_stack_stays_within_cloudformation_limits_and_its_template_is_where_the_deploy_puts_it() {
    let Some((root, nested)) = stacks() else { return };
    let state = read_json(&packaged("serverless-state.json"));
    let artifacts = state["package"]["artifactDirectoryName"].as_str().expect("the artifact directory");
    let count = |t: &Value, key: &str| t[key].as_object().map_or(0, |m| m.len());
    // 500 resources, 200 parameters and 200 outputs per template; headroom kept for the
    // routes still to come.
    assert!(count(&root, "Resources") <= 400, "root: {} resources", count(&root, "Resources"));
    for (stack, file, t) in &nested {
        assert!(count(t, "Resources") <= 400, "{stack}: {}", count(t, "Resources"));
        assert!(count(t, "Parameters") <= 150 && count(t, "Outputs") <= 150, "{stack}");
        let url = root["Resources"][stack]["Properties"]["TemplateURL"]["Fn::Sub"].as_str().unwrap();
        assert!(url.ends_with(&format!("/{artifacts}/{file}")), "{stack} at {url}");
        assert!(url.starts_with("https://${ServerlessDeploymentBucket}.s3."), "{url}");
    }
    assert!(nested.len() >= 5, "the routes are spread over their families");
}

#[test]
fn a_function_that_calls_the_rail_outlives_its_calls_and_answers_within_the_http_apis_limit() {
    // A rail call that times out leaves an outcome to book as unknown: a Lambda stopped
    // first would never book it. transfer_qr_put makes three outbound calls.
    let Some(t) = template() else { return };
    for name in
        ["transfer_put", "transfer_qr_put", "refund_put", "dict_get", "cobr_post", "rec_patch", "rail_notification"]
    {
        let f = function_named(&t, name);
        let rail_ms: u64 = environment(f)["RAIL_TIMEOUT_MS"].as_str().unwrap().parse().unwrap();
        let timeout_ms = f["Properties"]["Timeout"].as_u64().unwrap() * 1000;
        assert!(timeout_ms >= 3 * rail_ms + 5_000, "{name}: {timeout_ms} ms for calls of {rail_ms} ms");
        assert!(timeout_ms < 30_000, "{name}: over HTTP API's 30 s");
    }
}

#[test]
fn the_batch_worker_runs_most_of_a_minute_one_at_a_time() {
    // With the default 10 s timeout it would stop before its first pass.
    let Some(t) = template() else { return };
    let worker = function_named(&t, "lotecobv_worker");
    assert!(worker["Properties"]["Timeout"].as_u64().unwrap() >= 30, "{}", worker["Properties"]["Timeout"]);
    assert_eq!(worker["Properties"]["ReservedConcurrentExecutions"], 1);
}

#[test]
fn the_webhook_deliverer_runs_ten_at_a_time_by_its_queue_not_by_a_reserved_concurrency() {
    // A reserved concurrency would throttle the queue's poller, and each throttled receive
    // counts toward the queue's maxReceiveCount: healthy messages would end dead-lettered.
    let Some(t) = template() else { return };
    let deliver = function_named(&t, "webhook_deliver");
    assert!(deliver["Properties"].get("ReservedConcurrentExecutions").is_none(), "{deliver}");
    let mappings = of_type(&t, "AWS::Lambda::EventSourceMapping");
    assert_eq!(mappings.len(), 1, "one queue-triggered function");
    assert_eq!(mappings[0].1["Properties"]["ScalingConfig"]["MaximumConcurrency"], 10, "{}", mappings[0].1);
}
