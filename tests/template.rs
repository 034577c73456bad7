//! The CloudFormation template `make package` writes (`serverless package`, offline), checked
//! against the code: the routes are the route table's, every function has its own
//! least-privilege role and an encrypted log group with retention, and the data stores are
//! encrypted, recoverable and private.
//!
//! `make test` packages the template first and sets TUCANO_REQUIRE_TEMPLATE=1, so these
//! fail there if it is missing; a bare `cargo test` without a template skips them.

use serde_json::Value;
use std::collections::BTreeSet;
use tucano_shared::routes::{Access, JOBS, ROUTES};

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

fn template() -> Option<Value> {
    match std::fs::read_to_string(TEMPLATE) {
        Ok(text) => Some(serde_json::from_str(&text).unwrap()),
        Err(_) if std::env::var("TUCANO_REQUIRE_TEMPLATE").as_deref() == Ok("1") => {
            panic!("no template at {TEMPLATE}: `make package` (or `make test`) writes it")
        }
        Err(_) => {
            eprintln!("skipped: no packaged template (run `make package` or `make test`)");
            None
        }
    }
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

#[test]
fn the_api_routes_are_the_route_table_with_the_authorizer_on_merchant_routes() {
    let Some(t) = template() else { return };
    let mut in_template = BTreeSet::new();
    for (_, r) in of_type(&t, "AWS::ApiGatewayV2::Route") {
        let key = r["Properties"]["RouteKey"].as_str().unwrap().to_owned();
        let custom = r["Properties"]["AuthorizationType"] == "CUSTOM";
        in_template.insert((key, custom));
    }
    let table: BTreeSet<(String, bool)> =
        ROUTES.iter().map(|r| (format!("{} {}", r.method, r.path), r.access == Access::Merchant)).collect();
    assert_eq!(in_template, table);
    let authorizers = of_type(&t, "AWS::ApiGatewayV2::Authorizer");
    assert_eq!(authorizers.len(), 1);
    let a = &authorizers[0].1["Properties"];
    assert_eq!(a["AuthorizerType"], "REQUEST");
    assert!(a["AuthorizerResultTtlInSeconds"].as_u64().unwrap() > 0, "answers are cached");
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
        assert_eq!(k["Properties"]["EnableKeyRotation"], true, "{name}");
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
    }
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
