#!/usr/bin/env python3
"""Writes serverless.yml: every function of the route table (shared/src/routes.rs: ROUTES
and JOBS, as `tucano routes --json` prints them, so there is one list), its least-privilege role, log
group, alarms and canary settings, and the platform around them (VPC in three AZs, Aurora
PostgreSQL behind RDS Proxy, DynamoDB, KMS, SQS, SNS, dashboard).

Run `python3 scripts/serverless_yml.py` after adding a route; a test fails while the
committed serverless.yml differs from what this writes.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
STAGE = "${sls:stage}"
SERVICE = "tucano"


def tucano():
    """The tucano CLI to ask for the route table: $TUCANO_BIN, else the debug build when it
    is newer than every source file and Cargo.lock, else built now."""
    if os.environ.get("TUCANO_BIN"):
        return os.environ["TUCANO_BIN"]
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    binary = target / "debug" / "tucano"
    sources = [ROOT / "Cargo.lock", *ROOT.glob("shared/src/**/*.rs"), *ROOT.glob("src/**/*.rs")]
    newest = max(p.stat().st_mtime for p in sources)
    if not binary.exists() or binary.stat().st_mtime < newest:
        subprocess.run(["cargo", "build", "--locked", "--quiet", "--bin", "tucano"], cwd=ROOT, check=True)
    return str(binary)


# The route table, as `tucano routes --json` prints it (shared/src/routes.rs: one source).
TABLE = None


def table():
    global TABLE
    if TABLE is None:
        out = subprocess.run([tucano(), "routes", "--json"], check=True, capture_output=True, text=True).stdout
        TABLE = json.loads(out)
    return TABLE


# Which functions use which encryption purposes, by function name (ROUTES and JOBS).
def keys_of(fn):
    return next(e["keys"] for e in table()["routes"] + table()["jobs"] if e["function"] == fn)


def routes():
    """(function, method, path, access, idempotency) from ROUTES."""
    return [(r["function"], r["method"], r["path"], r["access"], r["idempotency"]) for r in table()["routes"]]


def quota(fn):
    """The per-merchant quota the route counts against (Unlimited, Dict, List)."""
    return next(r["quota"] for r in table()["routes"] if r["function"] == fn)


def jobs():
    """(function, trigger kind, argument) from JOBS."""
    return [(j["function"], j["trigger"], j["argument"] or "") for j in table()["jobs"]]


def path_part(raw):
    """The framework's logical-id form of one path segment (its naming.normalizePathPart)."""
    s = raw.lower().replace("-", "Dash")
    s = re.sub(r"\{(.*)\}", r"\1Var", s)
    s = re.sub(r"[^0-9A-Za-z]", "", s)
    return s[:1].upper() + s[1:]


def route_logical_id(method, path):
    """The logical id the framework gives the HTTP API route `METHOD /path`."""
    return "HttpApiRoute" + "".join(path_part(p) for p in f"{method} {path}".split("/"))


# Requests per second for each route (an HTTP API's default route settings apply to every
# route separately), and, tighter, for the routes a per-merchant quota guards (they reach
# the DICT or scan many rows): API Gateway answers 429 above these before any function
# runs. These are shared by all merchants; the per-merchant quotas are the application's.
STAGE_THROTTLE = {"ThrottlingBurstLimit": 500, "ThrottlingRateLimit": 200}
QUOTA_ROUTE_THROTTLE = {"ThrottlingBurstLimit": 40, "ThrottlingRateLimit": 20}


def family(path):
    """The nested stack a route's function lives in: its resource family (`/v2/cob/{txid}`
    -> `Cob`), or `Public` for the unversioned public routes. Stable as routes are added, so
    a new route never moves an existing function between stacks (that would replace it)."""
    parts = path.strip("/").split("/")
    if parts[0] != "v2":
        return "Public"
    return camel(parts[1].replace("-", "_"))


def nested_stacks():
    """custom.nestedStacks for deploy/nested-stacks.js: per family, its HTTP functions and
    the companions scripts/serverless_yml.py gives each (role, errors alarm, route); the
    plugin adds what the framework and the canary plugin make per function."""
    out = {}
    for fn, method, path, _, _ in routes():
        if fn in PAYLOAD_FUNCTIONS:
            continue  # The location API (root, with the custom domains) invokes them too.
        entry = out.setdefault(f"{family(path)}Routes", {"functions": [], "resources": []})
        entry["functions"].append(fn)
        entry["resources"] += [f"{camel(fn)}Role", f"{camel(fn)}ErrorsAlarm", route_logical_id(method, path)]
    return out


def camel(name):
    return "".join(p.capitalize() for p in name.split("_"))


def normalized(name):
    """The framework's logical-id form of a function name (`cob_put` -> `CobUnderscoreput`)."""
    return (name[:1].upper() + name[1:]).replace("_", "Underscore").replace("-", "Dash")


def ref(x):
    return {"Ref": x}


def arn(x):
    return {"Fn::GetAtt": [x, "Arn"]}


def sub(s):
    return {"Fn::Sub": s}


# Actions AWS only grants on "*" (listed in tests/template.rs as well).
STAR_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
]

LOG_RETENTION_DAYS = 365


def function_name(fn):
    return f"{SERVICE}-{STAGE}-{fn}"


def holds_index_key(fn):
    """Whether the function is given the blind-index key (all but the public functions that
    need neither document indexes nor access tokens: the key derives the tokens' signing
    key)."""
    return next(e["indexKey"] for e in table()["routes"] + table()["jobs"] if e["function"] == fn)


def app_key(fn):
    """The application key, only under the encryption purposes the function's entry in the
    route table lists (the local server holds requests to the same lists), and the
    blind-index key's purpose, which a function that holds it decrypts at cold start (None:
    no purpose at all, no grant)."""
    allowed = sorted(set(keys_of(fn)) | (set(table()["cold_start_keys"]) if holds_index_key(fn) else set()))
    if not allowed:
        return None
    return {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": arn("AppDataKey"),
            "Condition": {"StringEquals": {"kms:EncryptionContext:purpose": allowed}}}


# The functions that read no stored data (a document compiled in; the payload signer's
# published certificates): no database user.
NO_DATABASE = ("openapi_get", "jwks_get")


# The database users: the API's functions connect as the application role with IAM
# authentication (no password anywhere in them); the migrations function as the schema
# owner (the cluster's master user), with the password it reads at run time from the
# secret RDS manages — the only function that may read it. (The owner keeps password
# login through the proxy so that the functions of the previous release, which connect as
# the owner, keep working through the canary and a rollback; a later release may require
# IAM for it too.)
APP_DB_USER = "tucano_app"
OWNER_DB_USER = "tucano_admin"
PROXY_ID = {"Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": ["DatabaseProxy", "DBProxyArn"]}]}]}
MASTER_SECRET = {"Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]}
RAIL_SECRET_NAME = f"{SERVICE}/{STAGE}/rail-webhook-secret"



# How long a rail call may take before its outcome is unknown, and how long a function that
# makes such calls may run.
RAIL_TIMEOUT_MS = 5000
RAIL_CALLER_TIMEOUT = 25


def rail_secret_readers():
    """The functions that sign or verify rail messages, as the route table lists them (the
    local server holds requests to the same lists): the only ones that may read the secret
    (it can forge received Pix)."""
    return {e["function"] for e in table()["routes"] + table()["jobs"] if "rail-secret" in e["secrets"]}


def db_connect(user):
    return {"Effect": "Allow", "Action": ["rds-db:connect"], "Resource": {"Fn::Sub": [
        f"arn:${{AWS::Partition}}:rds-db:${{AWS::Region}}:${{AWS::AccountId}}:dbuser:${{ProxyId}}/{user}",
        {"ProxyId": PROXY_ID}]}}


RAIL_SECRET_READ = {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                    "Resource": sub(f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:"
                                    f"secret:{RAIL_SECRET_NAME}-??????")}


def role(fn, extra):
    """One execution role per function: its own log group, ENIs for the VPC, X-Ray, the
    keys it decrypts with, its database user, and `extra` statements for what else it
    touches."""
    if fn != "migrate" and fn not in NO_DATABASE:
        extra = [db_connect(APP_DB_USER)] + extra
    if fn in rail_secret_readers():
        extra.append(RAIL_SECRET_READ)
    statements = [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": sub(f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/{function_name(fn)}:*")},
        {"Effect": "Allow", "Action": STAR_ACTIONS, "Resource": "*"},
        # Environment variables are encrypted with the platform key; the app's data keys
        # come from the application key.
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": arn("PlatformKey")},
    ] + [s for s in [app_key(fn)] if s] + extra
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                               "Action": "sts:AssumeRole"}],
            },
            "Policies": [{"PolicyName": f"{fn}-least-privilege",
                          "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}],
        },
    }


# Made on the first deploy by the migrations function, kept wrapped in the database.
BLIND_INDEX = {"Fn::GetAtt": ["Migrations", "BlindIndexKeyWrapped"]}

IDEMPOTENCY = {"Effect": "Allow",
               "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
               "Resource": arn("IdempotencyTable")}
IDEMPOTENCY_KEY = {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": arn("PlatformKey")}
QUEUE_SEND = {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": arn("WebhookQueue")}
# Payload locations are signed by an asymmetric KMS key (the private key never leaves KMS);
# its certificate chain (public, but longer than an environment holds) is the SSM
# parameter the PSP stores it in. Only the payload and key-set functions touch either.
#
# Rotation (README, "Payload signatures"): the stage parameter payloadAlsoPublishVersion
# publishes version N of the chain in PAYLOAD_ALSO_CHAIN_PARAMETER beside the signing key
# (a version, so that changing it redeploys the functions and they read it); then
# payloadKmsKeyArn makes another key sign, with the signing chain pinned at the version
# that certifies it (payloadCertChainVersion), so no cold start pairs a key with the
# other key's chain.
PAYLOAD_FUNCTIONS = ("payload_get", "payload_cobv_get", "jwks_get")
PAYLOAD_CHAIN_PARAMETER = f"/tucano/{STAGE}/payload-cert-chain"
PAYLOAD_ALSO_CHAIN_PARAMETER = f"/tucano/{STAGE}/payload-cert-chain-also"
PAYLOAD_ENV = {
    "PAYLOAD_SIGNING": "kms",
    "PAYLOAD_KMS_KEY_ID": {"Fn::If": ["HasPayloadKmsKeyArn", ref("PayloadKmsKeyArn"), ref("PayloadSigningKey")]},
    "PAYLOAD_CERT_CHAIN_PARAMETER": {"Fn::If": [
        "HasPayloadCertChainVersion", sub(PAYLOAD_CHAIN_PARAMETER + ":${PayloadCertChainVersion}"),
        PAYLOAD_CHAIN_PARAMETER]},
    "PAYLOAD_ALSO_PUBLISH_PARAMETER": {"Fn::If": [
        "HasPayloadAlsoPublish", sub(PAYLOAD_ALSO_CHAIN_PARAMETER + ":${PayloadAlsoPublishVersion}"),
        ref("AWS::NoValue")]},
}
def payload_sign(fn):
    """What a payload function needs of the signing key and its published chain: the key
    set (jwks_get) only publishes, checking the key's public half; it never signs."""
    return [
        {"Effect": "Allow", "Action": ["kms:GetPublicKey"] if fn == "jwks_get" else ["kms:Sign", "kms:GetPublicKey"],
         "Resource": [arn("PayloadSigningKey"),
                      {"Fn::If": ["HasPayloadKmsKeyArn", ref("PayloadKmsKeyArn"), ref("AWS::NoValue")]}]},
        {"Effect": "Allow", "Action": ["ssm:GetParameter"],
         "Resource": [sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter" + name)
                      for name in (PAYLOAD_CHAIN_PARAMETER, PAYLOAD_ALSO_CHAIN_PARAMETER)]},
    ]
QUEUE_RECEIVE = {"Effect": "Allow",
                 "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                            "sqs:ChangeMessageVisibility"],
                 "Resource": arn("WebhookQueue")}


# One artifact for every function (linked once, uploaded once): the `bootstrap` binary,
# which serves the route or job its function's handler names (`_HANDLER`).
ARTIFACT = "${env:TUCANO_ARTIFACTS, 'target/lambda'}/bootstrap/bootstrap.zip"


def build():
    fns = {}
    resources = {}
    alarms_for = {}
    http_functions = []
    for fn, method, path, access, idem in routes():
        f = {"handler": fn, "role": f"{camel(fn)}Role"}
        # No API Gateway authorizer: each merchant route's function authenticates the access
        # token itself (its signature, expiry, scope and revocation, without a database read)
        # and answers the standard 401/403 problems. An HTTP API authorizer can only answer
        # 403 {"message":"Forbidden"} to a token it refuses, where an OAuth client needs a
        # 401 to know to fetch a new token; and it would be a second Lambda on the path.
        event = {"method": method, "path": path}
        f["events"] = [{"httpApi": event}]
        extra = []
        if idem != "Off":
            extra = [IDEMPOTENCY, IDEMPOTENCY_KEY]
        if fn == "rail_notification":
            # The rail's notifications write money: cap what they can take from the database.
            f["reservedConcurrency"] = 50
        if fn in rail_secret_readers():
            # It calls the rail (and the DICT, another PSP's location; the notifications
            # function reads an order's status before booking a reversal): up to three calls
            # of RAIL_TIMEOUT_MS each, then its own bookkeeping of an unknown outcome, which a
            # Lambda stopped at the provider's 10 s would never reach; under HTTP API's 30 s.
            f["timeout"] = RAIL_CALLER_TIMEOUT
        f["environment"] = {"BLIND_INDEX_KEY_WRAPPED": BLIND_INDEX} if holds_index_key(fn) else {}
        if fn in PAYLOAD_FUNCTIONS:
            f["environment"].update(PAYLOAD_ENV)
            extra = extra + payload_sign(fn)
        fns[fn] = f
        resources[f"{camel(fn)}Role"] = role(fn, extra)
        http_functions.append(fn)
    for fn, kind, arg in jobs():
        f = {"handler": fn, "role": f"{camel(fn)}Role"}
        extra = []
        if kind == "Schedule":
            f["events"] = [{"schedule": arg}]
        elif kind == "Queue":
            f["events"] = [{"sqs": {"arn": arn(arg), "batchSize": 10, "functionResponseType": "ReportBatchItemFailures"}}]
        if fn != "migrate" and holds_index_key(fn):
            f.setdefault("environment", {})["BLIND_INDEX_KEY_WRAPPED"] = BLIND_INDEX
        if fn == "webhook_relay":
            f["timeout"] = 60
            f["reservedConcurrency"] = 1
            f.setdefault("environment", {})["WEBHOOK_QUEUE_URL"] = ref("WebhookQueue")
            extra = [QUEUE_SEND, IDEMPOTENCY_KEY]
        elif fn == "webhook_deliver":
            f["timeout"] = 20
            # Ten at a time keeps the pool of database connections small: the queue's
            # event source invokes at most ten (a reserved concurrency instead would have
            # Lambda throttle the poller, and each throttled receive counts toward the
            # queue's maxReceiveCount: healthy messages would end in the dead-letter queue).
            f["events"][0]["sqs"]["maximumConcurrency"] = 10
            extra = [QUEUE_RECEIVE, IDEMPOTENCY_KEY]
        elif fn == "lotecobv_worker":
            # Most of a minute per run, one run at a time (every minute).
            f["timeout"] = 60
            f["reservedConcurrency"] = 1
        elif fn == "reconciler":
            f["timeout"] = 55
            f["reservedConcurrency"] = 1
        elif fn == "migrate":
            f["timeout"] = 300
            f["reservedConcurrency"] = 1
            f["environment"] = {
                "DATABASE_URL": sub(f"postgres://{OWNER_DB_USER}@${{DatabaseProxy.Endpoint}}:5432/tucano"
                                    "?sslmode=verify-full"),
                "DB_IAM_AUTH": "false",
                # Secrets' ids, not their values: read per invocation.
                "DATABASE_PASSWORD_SECRET_ID": MASTER_SECRET,
                "APP_DB_PASSWORD_SECRET_ID": ref("AppDatabaseSecret")}
            extra = [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                      "Resource": [MASTER_SECRET, ref("AppDatabaseSecret")]}]
        elif fn == "admin":
            # Operators' merchant and client management (`aws lambda invoke`): one at a time.
            f["timeout"] = 30
            f["reservedConcurrency"] = 1
        fns[fn] = f
        resources[f"{camel(fn)}Role"] = role(fn, extra)

    # Log groups: the framework creates one per function; give each a KMS key (retention
    # comes from provider.logRetentionInDays).
    extensions = {f"{normalized(fn)}LogGroup": {"Properties": {"KmsKeyId": arn("PlatformKey")}} for fn in fns}
    extensions["HttpApiLogGroup"] = {"Properties": {"KmsKeyId": arn("PlatformKey")}}
    # Throttling on the stage the framework makes: a route setting needs its route to exist
    # first (API Gateway checks the key), hence the DependsOn.
    limited = [(method, path) for fn, method, path, _, _ in routes() if quota(fn) != "Unlimited"]
    extensions["HttpApiStage"] = {
        "Properties": {"DefaultRouteSettings": dict(STAGE_THROTTLE),
                       "RouteSettings": {f"{m} {p}": dict(QUOTA_ROUTE_THROTTLE) for m, p in limited}},
        "DependsOn": [route_logical_id(m, p) for m, p in limited]}

    # Every HTTP function deploys by canary: 10% of traffic per minute, rolled back on its
    # own errors or the API's 5xx — and the functions payers' banks call, on the 5xx of the
    # API they call them through.
    public = {fn for _, fn, _ in LOCATION_ROUTES}
    for fn in http_functions:
        alarm = f"{camel(fn)}ErrorsAlarm"
        resources[alarm] = lambda_errors_alarm(fn)
        watched = [alarm, "Api5xxAlarm"] + (["PublicApi5xxAlarm"] if fn in public else [])
        fns[fn]["deploymentSettings"] = {"type": "Linear10PercentEvery1Minute", "alias": "Live",
                                         "alarms": watched}
    for fn in fns:
        if fn not in http_functions:
            resources[f"{camel(fn)}ErrorsAlarm"] = lambda_errors_alarm(fn)

    resources.update(platform())
    resources.update(alarms())
    conditions, domain_resources, http_api = custom_domains()
    resources.update(domain_resources)
    extensions["HttpApi"] = http_api
    resources["Dashboard"] = dashboard(list(fns))
    return fns, resources, extensions, conditions


# An optional custom domain for the API with mutual TLS, as Bacen's security manual asks of
# PSP APIs, from stage parameters (`params` below; empty: no domain, the API keeps its
# execute-api endpoint). With a domain, the execute-api endpoint is disabled (it would
# bypass the client certificate check), and the payload locations payers' banks read
# without a client certificate get a public API of their own on `locationDomain`.
DOMAIN_PARAMS = {"apiDomain": "", "apiCertificateArn": "", "mtlsTruststoreUri": "", "mtlsTruststoreVersion": "",
                 "locationDomain": "", "locationCertificateArn": "",
                 "payloadKmsKeyArn": "", "payloadCertChainVersion": "", "payloadAlsoPublishVersion": "",
                 "alarmEmail": ""}
PARAM_MEANING = {"payloadKmsKeyArn": "empty: the template's PayloadSigningKey signs payloads",
                 "payloadCertChainVersion": "empty: the signing chain's latest version",
                 "payloadAlsoPublishVersion": "empty: the key set publishes the signing key alone",
                 "alarmEmail": "empty: nobody is subscribed to the alarm topic (subscribe yourself)"}


def param(name):
    """A stage parameter inside the template: a CloudFormation parameter (set from the stage
    parameter of the same name through provider.stackParameters), so the template is the
    same for every stage and its conditions are decided at deploy time."""
    return ref(name[0].upper() + name[1:])


def stack_parameters():
    """The template's parameters and the values the framework passes them."""
    declared = {k[0].upper() + k[1:]: {"Type": "String", "Default": "", "Description":
                                       f"Stage parameter {k} ({PARAM_MEANING.get(k, 'empty: no custom domain')})"}
                for k in DOMAIN_PARAMS}
    values = [{"ParameterKey": k[0].upper() + k[1:], "ParameterValue": "${param:%s}" % k} for k in DOMAIN_PARAMS]
    return declared, values


# cfn-lint reads a certificate parameter's empty default as the ARN; the resources exist
# only when the parameters are set (HasApiDomain), so that reading never deploys.
LINT_PARAMETER_DEFAULTS = {"cfn-lint": {"config": {"ignore_checks": ["W1030"]}}}


# The public location API's routes: (name, function, route key).
LOCATION_ROUTES = [("", "payload_get", "GET /qr/v2/{token}"),
                   ("Cobv", "payload_cobv_get", "GET /qr/v2/cobv/{token}"),
                   ("Jwks", "jwks_get", "GET /.well-known/jwks.json")]


def public_route(name, fn, route_key):
    """A route of the public location API to `fn`: its integration, route and permission."""
    function = arn(normalized(fn) + "LambdaFunction")
    integration = f"LocationApi{name}Integration"
    when = {"Condition": "HasApiDomain"}
    return {
        integration: {"Type": "AWS::ApiGatewayV2::Integration", **when,
                      "Properties": {"ApiId": ref("LocationApi"), "IntegrationType": "AWS_PROXY",
                                     "IntegrationUri": function, "PayloadFormatVersion": "2.0"}},
        f"LocationApi{name}Route": {"Type": "AWS::ApiGatewayV2::Route", **when, "Properties": {
            "ApiId": ref("LocationApi"), "RouteKey": route_key, "AuthorizationType": "NONE",
            "Target": {"Fn::Join": ["/", ["integrations", ref(integration)]]}}},
        f"LocationApi{name}Permission": {"Type": "AWS::Lambda::Permission", **when, "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": function, "Principal": "apigateway.amazonaws.com",
            "SourceArn": sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${LocationApi}/*")}},
    }


def custom_domains():
    conditions = {
        "HasApiDomain": {"Fn::Not": [{"Fn::Equals": [param("apiDomain"), ""]}]},
        "HasTruststoreVersion": {"Fn::Not": [{"Fn::Equals": [param("mtlsTruststoreVersion"), ""]}]},
        "HasPayloadKmsKeyArn": {"Fn::Not": [{"Fn::Equals": [param("payloadKmsKeyArn"), ""]}]},
        "HasPayloadAlsoPublish": {"Fn::Not": [{"Fn::Equals": [param("payloadAlsoPublishVersion"), ""]}]},
        "HasPayloadCertChainVersion": {"Fn::Not": [{"Fn::Equals": [param("payloadCertChainVersion"), ""]}]},
        "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [param("alarmEmail"), ""]}]},
    }
    tls = lambda cert: [{"CertificateArn": cert, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}]
    resources = {
        "ApiDomainName": {"Type": "AWS::ApiGatewayV2::DomainName", "Condition": "HasApiDomain",
                          "Metadata": LINT_PARAMETER_DEFAULTS, "Properties": {
            "DomainName": param("apiDomain"),
            "DomainNameConfigurations": tls(param("apiCertificateArn")),
            "MutualTlsAuthentication": {
                "TruststoreUri": param("mtlsTruststoreUri"),
                "TruststoreVersion": {"Fn::If": ["HasTruststoreVersion", param("mtlsTruststoreVersion"),
                                                 ref("AWS::NoValue")]}}}},
        "ApiDomainMapping": {"Type": "AWS::ApiGatewayV2::ApiMapping", "Condition": "HasApiDomain",
                             "DependsOn": ["HttpApiStage"],
                             "Properties": {"ApiId": ref("HttpApi"), "DomainName": ref("ApiDomainName"),
                                            "Stage": "$default"}},
        # Payload locations: public (a payer's bank has no client certificate of ours).
        "LocationApi": {"Type": "AWS::ApiGatewayV2::Api", "Condition": "HasApiDomain", "Properties": {
            "Name": f"{SERVICE}-{STAGE}-locations", "ProtocolType": "HTTP", "DisableExecuteApiEndpoint": True}},
        "LocationApiStage": {"Type": "AWS::ApiGatewayV2::Stage", "Condition": "HasApiDomain", "Properties": {
            "ApiId": ref("LocationApi"), "StageName": "$default", "AutoDeploy": True,
            "DefaultRouteSettings": dict(STAGE_THROTTLE),
            "AccessLogSettings": {"DestinationArn": arn("HttpApiLogGroup"),
                                  "Format": json.dumps({"requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
                                                        "routeKey": "$context.routeKey", "status": "$context.status"},
                                                       separators=(",", ":"))}}},
        "LocationDomainName": {"Type": "AWS::ApiGatewayV2::DomainName", "Condition": "HasApiDomain",
                               "Metadata": LINT_PARAMETER_DEFAULTS, "Properties": {
            "DomainName": param("locationDomain"), "DomainNameConfigurations": tls(param("locationCertificateArn"))}},
        "LocationDomainMapping": {"Type": "AWS::ApiGatewayV2::ApiMapping", "Condition": "HasApiDomain",
                                  "DependsOn": ["LocationApiStage"],
                                  "Properties": {"ApiId": ref("LocationApi"), "DomainName": ref("LocationDomainName"),
                                                 "Stage": "$default"}},
    }
    for name, fn, route_key in LOCATION_ROUTES:
        resources.update(public_route(name, fn, route_key))
    # The framework's HTTP API: its execute-api endpoint off once the mTLS domain is there.
    extension = {"Properties": {"DisableExecuteApiEndpoint": {"Fn::If": ["HasApiDomain", True, False]}}}
    return conditions, resources, extension


def lambda_errors_alarm(fn):
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": f"{fn}: errors in the last 2 minutes",
        "Namespace": "AWS/Lambda", "MetricName": "Errors",
        "Dimensions": [{"Name": "FunctionName", "Value": function_name(fn)}],
        "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 2, "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [ref("AlarmTopic")]}}


def alarm(description, namespace, metric, dims, stat, threshold, periods=2, op="GreaterThanOrEqualToThreshold"):
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
        "Statistic" if stat in ("Sum", "Average", "Maximum", "Minimum", "SampleCount") else "ExtendedStatistic": stat,
        "Period": 60, "EvaluationPeriods": periods, "Threshold": threshold, "ComparisonOperator": op,
        "TreatMissingData": "notBreaching", "AlarmActions": [ref("AlarmTopic")]}}


def alarms():
    api = [("ApiId", ref("HttpApi"))]
    return {
        "Api5xxAlarm": alarm("API: 5xx answers", "AWS/ApiGateway", "5xx", api, "Sum", 5),
        # What payers' banks are answered: the public location API with a custom domain (on
        # the main API without one, where Api5xxAlarm already tells: it e-mails only with a
        # domain). It exists either way, for the canaries that watch it.
        "PublicApi5xxAlarm": public_api_alarm(),
        "ApiLatencyAlarm": alarm("API: p99 latency above 1 s", "AWS/ApiGateway", "Latency", api, "p99", 1000, 5),
        "WebhookDeadLettersAlarm": alarm("Webhook messages in the dead-letter queue", "AWS/SQS",
                                         "ApproximateNumberOfMessagesVisible",
                                         [("QueueName", {"Fn::GetAtt": ["WebhookDeadLetterQueue", "QueueName"]})],
                                         "Maximum", 1, 1),
        "WebhookLagAlarm": alarm("Webhooks: delivery lag above 5 minutes", "Tucano", "WebhookLag",
                                 [("Function", function_name("webhook_deliver"))], "Maximum", 300000, 5),
        # Reversing notifications the rail's status has not judged for half an hour: the
        # rail's status service is down, or an order is stuck there (operators ask the
        # sponsor bank).
        "RailVerdictsWaitingAlarm": alarm("Rail: reversing notifications unjudged for 30 minutes", "Tucano",
                                          "RailVerdictsWaiting", [("Function", function_name("reconciler"))],
                                          "Minimum", 1, 30),
        # Orders pending at the rail left over by every reconciliation pass for 15 minutes:
        # the rail answers too slowly, or too many orders wait, for a pass's budget.
        "ReconcilerBacklogAlarm": alarm("Reconciler: orders left over by every pass for 15 minutes", "Tucano",
                                        "ReconcilerOrdersLeft", [("Function", function_name("reconciler"))],
                                        "Minimum", 1, 15),
        "IdempotencyThrottlesAlarm": alarm("DynamoDB: throttled idempotency requests", "AWS/DynamoDB",
                                           "ThrottledRequests", [("TableName", ref("IdempotencyTable"))], "Sum", 1),
        "DatabaseCpuAlarm": alarm("Aurora: CPU above 80%", "AWS/RDS", "CPUUtilization",
                                  [("DBClusterIdentifier", ref("DatabaseCluster"))], "Average", 80, 5),
        "ProxyPinningAlarm": alarm("RDS Proxy: pinned connections", "AWS/RDS", "DatabaseConnectionsCurrentlySessionPinned",
                                   [("ProxyName", ref("DatabaseProxy"))], "Maximum", 5, 5),
    }


def public_api_alarm():
    a = alarm("Payload locations (payers' banks): 5xx answers", "AWS/ApiGateway", "5xx",
              [("ApiId", {"Fn::If": ["HasApiDomain", ref("LocationApi"), ref("HttpApi")]})], "Sum", 5)
    a["Properties"]["AlarmActions"] = {"Fn::If": ["HasApiDomain", [ref("AlarmTopic")], []]}
    return a


def key(description, services):
    """A customer-managed key with yearly rotation; the account administers it, the listed
    AWS services may use it (scoped to this account)."""
    statements = [{"Sid": "AccountAdministers", "Effect": "Allow",
                   "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                   "Action": "kms:*", "Resource": "*"}]
    for svc in services:
        statements.append({"Sid": f"Use{svc.split('.')[0].capitalize()}", "Effect": "Allow",
                           "Principal": {"Service": sub(svc) if "${" in svc else svc},
                           "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                      "kms:Describe*"],
                           "Resource": "*",
                           "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}})
    return {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {"Description": description, "EnableKeyRotation": True,
                           "KeyPolicy": {"Version": "2012-10-17", "Statement": statements}}}


def subnet(name, index, cidr, public):
    props = {"VpcId": ref("Vpc"), "CidrBlock": cidr,
             "AvailabilityZone": {"Fn::Select": [index, {"Fn::GetAZs": ""}]},
             "MapPublicIpOnLaunch": False,
             "Tags": [{"Key": "Name", "Value": f"{SERVICE}-{STAGE}-{name}"}]}
    return {"Type": "AWS::EC2::Subnet", "Properties": props}


def platform():
    r = {
        "PlatformKey": key("Tucano: data at rest (Aurora, DynamoDB, SQS, SNS, logs, Lambda environment)",
                           ["logs.${AWS::Region}.amazonaws.com", "sqs.amazonaws.com", "sns.amazonaws.com",
                            "events.amazonaws.com", "cloudwatch.amazonaws.com"]),
        "PlatformKeyAlias": {"Type": "AWS::KMS::Alias",
                             "Properties": {"AliasName": f"alias/{SERVICE}-{STAGE}-platform",
                                            "TargetKeyId": ref("PlatformKey")}},
        "AppDataKey": key("Tucano: envelope encryption of payer documents and secrets (the Cipher port)", []),
        # RSA signing key of payload locations (RS256). Asymmetric keys do not rotate in
        # KMS: a new key (and certificate) is published beside the old one instead.
        "PayloadSigningKey": {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                              "Properties": {
                                  "Description": "Tucano: signs dynamic BR Code payloads (JWS RS256)",
                                  "KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY", "EnableKeyRotation": False,
                                  "KeyPolicy": {"Version": "2012-10-17", "Statement": [{
                                      "Sid": "AccountAdministers", "Effect": "Allow",
                                      "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                                      "Action": "kms:*", "Resource": "*"}]}}},
        "AppDataKeyAlias": {"Type": "AWS::KMS::Alias",
                            "Properties": {"AliasName": f"alias/{SERVICE}-{STAGE}-app-data",
                                           "TargetKeyId": ref("AppDataKey")}},
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {
            "CidrBlock": "10.40.0.0/16", "EnableDnsHostnames": True, "EnableDnsSupport": True,
            "Tags": [{"Key": "Name", "Value": f"{SERVICE}-{STAGE}"}]}},
        "VpcFlowLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "RetentionInDays": LOG_RETENTION_DAYS, "KmsKeyId": arn("PlatformKey")}},
        "VpcFlowLogRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                 "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "flow-logs", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                 "Resource": arn("VpcFlowLogGroup")}]}}]}},
        "VpcFlowLog": {"Type": "AWS::EC2::FlowLog", "Properties": {
            "ResourceId": ref("Vpc"), "ResourceType": "VPC", "TrafficType": "ALL",
            "LogDestinationType": "cloud-watch-logs", "LogGroupName": ref("VpcFlowLogGroup"),
            "DeliverLogsPermissionArn": arn("VpcFlowLogRole")}},
        "InternetGateway": {"Type": "AWS::EC2::InternetGateway"},
        "InternetGatewayAttachment": {"Type": "AWS::EC2::VPCGatewayAttachment",
                                      "Properties": {"VpcId": ref("Vpc"), "InternetGatewayId": ref("InternetGateway")}},
        "PublicRouteTable": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": ref("Vpc")}},
        "PublicDefaultRoute": {"Type": "AWS::EC2::Route", "DependsOn": "InternetGatewayAttachment", "Properties": {
            "RouteTableId": ref("PublicRouteTable"), "DestinationCidrBlock": "0.0.0.0/0",
            "GatewayId": ref("InternetGateway")}},
    }
    private_tables = []
    for i, az in enumerate("ABC"):
        r[f"PublicSubnet{az}"] = subnet(f"public-{az.lower()}", i, f"10.40.{i}.0/24", True)
        r[f"PrivateSubnet{az}"] = subnet(f"private-{az.lower()}", i, f"10.40.{10 + i}.0/24", False)
        r[f"PublicSubnet{az}Routes"] = {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
            "SubnetId": ref(f"PublicSubnet{az}"), "RouteTableId": ref("PublicRouteTable")}}
        # One NAT gateway per AZ: functions reach the Pix rail and merchants' webhook
        # receivers on the Internet, and an AZ outage does not cut the other two off.
        r[f"NatAddress{az}"] = {"Type": "AWS::EC2::EIP", "DependsOn": "InternetGatewayAttachment",
                                "Properties": {"Domain": "vpc"}}
        r[f"NatGateway{az}"] = {"Type": "AWS::EC2::NatGateway", "Properties": {
            "AllocationId": {"Fn::GetAtt": [f"NatAddress{az}", "AllocationId"]}, "SubnetId": ref(f"PublicSubnet{az}")}}
        r[f"PrivateRouteTable{az}"] = {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": ref("Vpc")}}
        r[f"PrivateDefaultRoute{az}"] = {"Type": "AWS::EC2::Route", "Properties": {
            "RouteTableId": ref(f"PrivateRouteTable{az}"), "DestinationCidrBlock": "0.0.0.0/0",
            "NatGatewayId": ref(f"NatGateway{az}")}}
        r[f"PrivateSubnet{az}Routes"] = {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
            "SubnetId": ref(f"PrivateSubnet{az}"), "RouteTableId": ref(f"PrivateRouteTable{az}")}}
        private_tables.append(ref(f"PrivateRouteTable{az}"))
    private_subnets = [ref(f"PrivateSubnet{az}") for az in "ABC"]
    r["DynamoDbEndpoint"] = {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
        "VpcId": ref("Vpc"), "ServiceName": sub("com.amazonaws.${AWS::Region}.dynamodb"),
        "VpcEndpointType": "Gateway", "RouteTableIds": private_tables}}
    for svc in ["kms", "sqs", "secretsmanager"]:
        r[f"{svc.capitalize()}Endpoint"] = {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
            "VpcId": ref("Vpc"), "ServiceName": sub(f"com.amazonaws.${{AWS::Region}}.{svc}"),
            "VpcEndpointType": "Interface", "PrivateDnsEnabled": True, "SubnetIds": private_subnets,
            "SecurityGroupIds": [ref("EndpointSecurityGroup")]}}
    r["LambdaSecurityGroup"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": "Tucano functions: outbound only",
        "VpcId": ref("Vpc"),
        "SecurityGroupEgress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0",
                                 "Description": "HTTPS: AWS APIs, the Pix rail, webhook receivers"},
                                {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "10.40.0.0/16",
                                 "Description": "Postgres through RDS Proxy"}]}}
    r["EndpointSecurityGroup"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": "Interface endpoints: HTTPS from the functions", "VpcId": ref("Vpc"),
        "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                                  "SourceSecurityGroupId": ref("LambdaSecurityGroup"),
                                  "Description": "HTTPS from the functions"}]}}
    r["ProxySecurityGroup"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": "RDS Proxy: Postgres from the functions", "VpcId": ref("Vpc"),
        "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                                  "SourceSecurityGroupId": ref("LambdaSecurityGroup"),
                                  "Description": "Postgres from the functions"}]}}
    r["DatabaseSecurityGroup"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": "Aurora: Postgres from RDS Proxy only", "VpcId": ref("Vpc"),
        "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                                  "SourceSecurityGroupId": ref("ProxySecurityGroup"),
                                  "Description": "Postgres from RDS Proxy"}]}}
    r["ProxyToDatabaseEgress"] = {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
        "GroupId": ref("ProxySecurityGroup"), "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "DestinationSecurityGroupId": ref("DatabaseSecurityGroup"), "Description": "Postgres to Aurora"}}
    r["DatabaseSubnetGroup"] = {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {
        "DBSubnetGroupDescription": "Tucano: private subnets in three AZs", "SubnetIds": private_subnets}}
    r["DatabaseParameters"] = {"Type": "AWS::RDS::DBClusterParameterGroup", "Properties": {
        "Description": "Tucano: TLS only, DDL and slow statements logged without their parameters",
        "Family": "aurora-postgresql17",
        # A slow statement's log line would carry its bind parameters (documents, keys,
        # names) unless their length is capped to zero, on success and on error alike.
        "Parameters": {"rds.force_ssl": "1", "log_statement": "ddl", "log_min_duration_statement": "1000",
                       "log_parameter_max_length": "0", "log_parameter_max_length_on_error": "0",
                       # Errors without their DETAIL lines (a unique violation's would show
                       # the key, which may be a CPF).
                       "log_error_verbosity": "terse"}}}
    r["DatabaseCluster"] = {"Type": "AWS::RDS::DBCluster", "DeletionPolicy": "Snapshot",
                            "UpdateReplacePolicy": "Snapshot", "Properties": {
        "Engine": "aurora-postgresql", "EngineVersion": "17.6", "DatabaseName": "tucano",
        "MasterUsername": "tucano_admin", "ManageMasterUserPassword": True,
        "MasterUserSecret": {"KmsKeyId": ref("PlatformKey")},
        "StorageEncrypted": True, "KmsKeyId": ref("PlatformKey"),
        # Point-in-time recovery to any second of the last 35 days.
        "BackupRetentionPeriod": 35, "CopyTagsToSnapshot": True, "DeletionProtection": True,
        "EnableIAMDatabaseAuthentication": True, "EnableCloudwatchLogsExports": ["postgresql"],
        "DBSubnetGroupName": ref("DatabaseSubnetGroup"), "VpcSecurityGroupIds": [ref("DatabaseSecurityGroup")],
        "DBClusterParameterGroupName": ref("DatabaseParameters"),
        "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 16}}}
    for i, name in enumerate(["DatabaseWriter", "DatabaseReader"]):
        r[name] = {"Type": "AWS::RDS::DBInstance", "Properties": {
            "Engine": "aurora-postgresql", "DBInstanceClass": "db.serverless",
            "DBClusterIdentifier": ref("DatabaseCluster"),
            "AvailabilityZone": {"Fn::Select": [i, {"Fn::GetAZs": ""}]},
            "PubliclyAccessible": False, "AutoMinorVersionUpgrade": True,
            "EnablePerformanceInsights": True, "PerformanceInsightsKMSKeyId": ref("PlatformKey"),
            "MonitoringInterval": 60, "MonitoringRoleArn": arn("DatabaseMonitoringRole")}}
    r["DatabaseMonitoringRole"] = {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "monitoring.rds.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "ManagedPolicyArns": [sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")]}}
    master_secret = MASTER_SECRET
    # The password RDS Proxy logs in to Aurora with as the application role (made here,
    # set on the role by the migrations function from its SCRAM verifier). Only the
    # proxy and the migrations function may read it; clients authenticate with IAM.
    r["AppDatabaseSecret"] = {"Type": "AWS::SecretsManager::Secret", "Properties": {
        "Description": "Tucano: the application role's database password (read by RDS Proxy only)",
        "KmsKeyId": ref("PlatformKey"),
        "GenerateSecretString": {"SecretStringTemplate": json.dumps({"username": APP_DB_USER}),
                                 "GenerateStringKey": "password", "PasswordLength": 40,
                                 "ExcludePunctuation": True}}}
    r["DatabaseProxyRole"] = {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "read-database-secrets", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
             "Resource": [master_secret, ref("AppDatabaseSecret")]},
            {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": arn("PlatformKey")}]}}]}}
    r["DatabaseProxy"] = {"Type": "AWS::RDS::DBProxy", "Properties": {
        "DBProxyName": f"{SERVICE}-{STAGE}", "EngineFamily": "POSTGRESQL", "RequireTLS": True,
        "IdleClientTimeout": 900, "RoleArn": arn("DatabaseProxyRole"),
        "Auth": [{"AuthScheme": "SECRETS", "IAMAuth": "DISABLED", "SecretArn": master_secret},
                 {"AuthScheme": "SECRETS", "IAMAuth": "REQUIRED", "SecretArn": ref("AppDatabaseSecret")}],
        "VpcSubnetIds": private_subnets, "VpcSecurityGroupIds": [ref("ProxySecurityGroup")]}}
    r["DatabaseProxyTargets"] = {"Type": "AWS::RDS::DBProxyTargetGroup", "Properties": {
        "DBProxyName": ref("DatabaseProxy"), "TargetGroupName": "default",
        "DBClusterIdentifiers": [ref("DatabaseCluster")],
        "ConnectionPoolConfigurationInfo": {"MaxConnectionsPercent": 90, "MaxIdleConnectionsPercent": 20,
                                            "ConnectionBorrowTimeout": 5}}}
    r["IdempotencyTable"] = {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
                             "UpdateReplacePolicy": "Retain", "Properties": {
        "TableName": f"{SERVICE}-{STAGE}-idempotency", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "TimeToLiveSpecification": {"AttributeName": "ttl_epoch", "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": ref("PlatformKey")},
        "DeletionProtectionEnabled": True}}
    r["WebhookQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": f"{SERVICE}-{STAGE}-webhooks",
        # Six times the worker's timeout, as AWS advises for Lambda event sources.
        "VisibilityTimeout": 120, "MessageRetentionPeriod": 345600,
        "KmsMasterKeyId": ref("PlatformKey"), "KmsDataKeyReusePeriodSeconds": 3600,
        "RedrivePolicy": {"deadLetterTargetArn": arn("WebhookDeadLetterQueue"), "maxReceiveCount": 5}}}
    r["WebhookDeadLetterQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {
        "QueueName": f"{SERVICE}-{STAGE}-webhooks-dlq", "MessageRetentionPeriod": 1209600,
        "KmsMasterKeyId": ref("PlatformKey")}}
    r["AlarmTopic"] = {"Type": "AWS::SNS::Topic", "Properties": {
        "TopicName": f"{SERVICE}-{STAGE}-alarms", "KmsMasterKeyId": ref("PlatformKey")}}
    # An alarm that reaches nobody is no alarm: the stage parameter alarmEmail subscribes the
    # on-call address (it confirms the subscription from the e-mail SNS sends).
    r["AlarmEmailSubscription"] = {"Type": "AWS::SNS::Subscription", "Condition": "HasAlarmEmail", "Properties": {
        "TopicArn": ref("AlarmTopic"), "Protocol": "email", "Endpoint": param("alarmEmail")}}
    # Migrations run on every deploy, before traffic moves: a custom resource whose version
    # is the migrations' content hash.
    # The application secret is a property too: a replaced secret sets the role's
    # password again. (It is not rotated automatically: RDS Proxy reads it, and the role's
    # password follows it only through this resource.)
    # It waits for what the migrations function reaches (the database behind the proxy,
    # Secrets Manager and KMS through their endpoints, the private routes): on a first
    # deploy nothing else orders them before it.
    r["Migrations"] = {"Type": "Custom::Migrations", "Properties": {
        "ServiceToken": arn("MigrateLambdaFunction"),
        "Version": migrations_hash(),
        "AppSecret": ref("AppDatabaseSecret")},
        "DependsOn": ["DatabaseWriter", "DatabaseProxyTargets", "SecretsmanagerEndpoint", "KmsEndpoint",
                      *[f"PrivateDefaultRoute{az}" for az in "ABC"], *[f"PrivateSubnet{az}Routes" for az in "ABC"]]}
    return r


def migrations_hash():
    import hashlib
    h = hashlib.sha256()
    for p in sorted((ROOT / "migrations").glob("*.sql")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def dashboard(functions):
    def lam(metric, stat, label):
        return [["AWS/Lambda", metric, "FunctionName", function_name(f), {"stat": stat, "label": f}] for f in functions]

    def widget(title, metrics, x, y, w=12, h=6, view="timeSeries", stat=None):
        props = {"title": title, "metrics": metrics, "region": "${AWS::Region}", "view": view, "period": 60}
        if stat:
            props["stat"] = stat
        return {"type": "metric", "x": x, "y": y, "width": w, "height": h, "properties": props}

    # A Logs Insights query reads at most 50 log groups: one panel per 50 functions, so that
    # none is left out.
    groups = [functions[i:i + 50] for i in range(0, len(functions), 50)]

    def logs(title, query, x, y):
        return [{"type": "log", "x": x, "y": y + 6 * n, "width": 12, "height": 6, "properties": {
            "title": f"{title} ({n + 1}/{len(groups)})" if len(groups) > 1 else title,
            "region": "${AWS::Region}", "view": "table",
            "query": "SOURCE " + " | SOURCE ".join(f"'/aws/lambda/{function_name(f)}'" for f in group)
                     + " | " + query}} for n, group in enumerate(groups)]

    api = ["AWS/ApiGateway"]
    widgets = [
        {"type": "text", "x": 0, "y": 0, "width": 24, "height": 1,
         "properties": {"markdown": "## Infrastructure"}},
        widget("Lambda errors", lam("Errors", "Sum", "errors"), 0, 1),
        widget("Lambda throttles", lam("Throttles", "Sum", "throttles"), 12, 1),
        widget("Lambda duration p99", lam("Duration", "p99", "p99"), 0, 7),
        widget("Lambda concurrency", lam("ConcurrentExecutions", "Maximum", "max"), 12, 7),
        widget("API 4xx / 5xx", [api + ["4xx", "ApiId", "${HttpApi}"], api + ["5xx", "ApiId", "${HttpApi}"]], 0, 13,
               stat="Sum"),
        widget("API latency p50 / p99", [api + ["Latency", "ApiId", "${HttpApi}", {"stat": "p50"}],
                                         api + ["Latency", "ApiId", "${HttpApi}", {"stat": "p99"}]], 12, 13),
        widget("DynamoDB throttles", [["AWS/DynamoDB", "ThrottledRequests", "TableName", "${IdempotencyTable}"]], 0, 19,
               stat="Sum"),
        widget("Aurora CPU and connections", [["AWS/RDS", "CPUUtilization", "DBClusterIdentifier", "${DatabaseCluster}"],
                                              ["AWS/RDS", "DatabaseConnections", "DBClusterIdentifier",
                                               "${DatabaseCluster}"]], 12, 19, stat="Average"),
        widget("RDS Proxy: connections and pinning",
               [["AWS/RDS", "ClientConnections", "ProxyName", "${DatabaseProxy}"],
                ["AWS/RDS", "DatabaseConnectionsCurrentlySessionPinned", "ProxyName", "${DatabaseProxy}"]], 0, 25,
               stat="Maximum"),
        {"type": "text", "x": 0, "y": 31, "width": 24, "height": 1, "properties": {"markdown": "## Application"}},
        widget("Charges created", [["Tucano", "ChargesCreated", "Function", function_name("cob_put")],
                                   ["Tucano", "ChargesCreated", "Function", function_name("cob_post")]], 0, 32,
               stat="Sum"),
        widget("Pix received: count and value (centavos)",
               [["Tucano", "PixReceived", "Function", function_name("rail_notification")],
                ["Tucano", "PixReceivedValue", "Function", function_name("rail_notification"), {"yAxis": "right"}]],
               12, 32, stat="Sum"),
        widget("Transfers requested: count and value (centavos)",
               [["Tucano", "TransfersRequested", "Function", function_name(f)] for f in ("transfer_put", "transfer_qr_put")]
               + [["Tucano", "TransfersValue", "Function", function_name(f), {"yAxis": "right"}]
                  for f in ("transfer_put", "transfer_qr_put")], 0, 38, stat="Sum"),
        widget("Webhooks: delivered, failed, lag (ms)",
               [["Tucano", "WebhooksDelivered", "Function", function_name("webhook_deliver")],
                ["Tucano", "WebhooksFailed", "Function", function_name("webhook_deliver")],
                ["Tucano", "WebhookLag", "Function", function_name("webhook_deliver"), {"stat": "Maximum", "yAxis": "right"}]],
               12, 38, stat="Sum"),
        {"type": "text", "x": 0, "y": 44, "width": 24, "height": 1, "properties": {"markdown": "## Errors"}},
        # The request's route and id are fields of its span (telemetry.rs: JSON lines with
        # the current span).
        *logs("Server errors (5xx)", "fields @timestamp, span.route, status, span.request_id "
              "| filter message = 'request done' and status >= 500 | sort @timestamp desc | limit 50", 0, 45),
        *logs("Failed requests by route", "filter message = 'request failed' "
              "| stats count(*) as failures by span.route | sort failures desc", 12, 45),
    ]
    return {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardName": f"{SERVICE}-{STAGE}", "DashboardBody": sub(json.dumps({"widgets": widgets}))}}


HEADER = """\
# Tucano on AWS — WRITTEN BY scripts/serverless_yml.py FROM THE ROUTE TABLE; edit that
# script, not this file (a test checks the two agree).
#
# One Lambda per route (and per job) with its own least-privilege role, in private
# subnets of three AZs; HTTP API whose functions check OAuth access tokens themselves; Aurora
# PostgreSQL Serverless v2 (PITR 35 days) behind RDS Proxy; DynamoDB idempotency table;
# KMS keys with rotation; SQS + DLQ for webhooks; canary deploys rolled back on alarms.
"""


def render():
    fns, resources, extensions, conditions = build()
    doc = {
        "service": SERVICE,
        "params": {"default": dict(DOMAIN_PARAMS)},
        # The canary plugin first: the nested stacks take the resources it makes per function.
        "plugins": ["serverless-plugin-canary-deployments", "./deploy/nested-stacks"],
        "provider": {
            "name": "aws",
            "runtime": "provided.al2023",
            "architecture": "arm64",
            "region": "sa-east-1",
            "stage": "${opt:stage, 'dev'}",
            "memorySize": 256,
            "timeout": 10,
            "logRetentionInDays": LOG_RETENTION_DAYS,
            "kmsKeyArn": arn("PlatformKey"),
            "stackParameters": stack_parameters()[1],
            "tracing": {"lambda": True},
            "deploymentMethod": "direct",
            "deploymentBucket": {"blockPublicAccess": True, "versioning": True,
                                 "serverSideEncryption": "AES256"},
            "vpc": {"securityGroupIds": [ref("LambdaSecurityGroup")],
                    "subnetIds": [ref(f"PrivateSubnet{az}") for az in "ABC"]},
            "httpApi": {"disableDefaultEndpoint": False},
            "logs": {"httpApi": {"format": json.dumps({
                "requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
                "requestTime": "$context.requestTime", "method": "$context.httpMethod",
                "routeKey": "$context.routeKey", "status": "$context.status",
                "latency": "$context.responseLatency", "integrationError": "$context.integrationErrorMessage"},
                separators=(",", ":"))}},
            "environment": {
                "DB_MAX_CONNECTIONS": "2",
                "PIX_LOCATION_BASE": f"{{{{resolve:ssm:/tucano/{STAGE}/pix-location-base}}}}",
                # Through RDS Proxy, as the application role, with an IAM token for a
                # password (minted by the function; no password in its configuration). TLS
                # with the proxy's certificate verified: RDS Proxy presents an ACM
                # certificate, which chains to the Amazon roots in webpki-roots.
                "DATABASE_URL": sub(f"postgres://{APP_DB_USER}@${{DatabaseProxy.Endpoint}}:5432/tucano"
                                    "?sslmode=verify-full"),
                "DB_IAM_AUTH": "true",
                # The secret's name, not its value: read at run time, re-read on rotation.
                "RAIL_WEBHOOK_SECRET_ID": RAIL_SECRET_NAME,
                "RAIL_TIMEOUT_MS": str(RAIL_TIMEOUT_MS),
                "PIX_RAIL_URL": f"{{{{resolve:ssm:/tucano/{STAGE}/pix-rail-url}}}}",
                "PSP_ISPB": f"{{{{resolve:ssm:/tucano/{STAGE}/psp-ispb}}}}",
                "CIPHER": "kms",
                "KMS_KEY_ID": ref("AppDataKey"),
                "IDEMPOTENCY_STORE": "dynamodb",
                "IDEMPOTENCY_TABLE": ref("IdempotencyTable"),
                "LOG_FORMAT": "json",
            },
        },
        "package": {"artifact": ARTIFACT},
        "custom": {"nestedStacks": nested_stacks()},
        "functions": fns,
        "resources": {"Parameters": stack_parameters()[0], "Conditions": conditions, "Resources": resources,
                      "extensions": extensions,
                      "Outputs": {"ApiUrl": {"Value": {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}},
                                  "DatabaseProxyEndpoint": {"Value": {"Fn::GetAtt": ["DatabaseProxy", "Endpoint"]}},
                                  "AppDataKeyArn": {"Value": arn("AppDataKey")},
                                  "AlarmTopicArn": {"Value": ref("AlarmTopic")}}},
    }
    return HEADER + yaml.safe_dump(doc, sort_keys=False, width=120, allow_unicode=True)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        current = (ROOT / "serverless.yml").read_text()
        sys.exit(0 if current == text else 1)
    (ROOT / "serverless.yml").write_text(text)
