#!/usr/bin/env python3
"""Writes openapi.json, Tucano's OpenAPI 3.1 document, from the route table (`tucano routes
--json`) and Banco Central's API Pix 2.9.0 document (../shared/spec/, beside the checkout).

- Every route of the table is one operation, and nothing else is (a Rust test checks both
  ways against the committed file).
- The Bacen operations Tucano implements keep Bacen's schemas, with the spec's bugs fixed:
  its regexes anchored (`^...$`; the CPF pattern's slashes removed) and `PixConsultados`
  requiring `pix` (not `cobs`).
- Our extensions (transfers, balance, statement, DICT lookup, event webhooks, the event
  log, the token endpoint, the payload location, the rail's notifications) are described
  here.
- Every operation lists every status Tucano can answer (the problem+json ones included),
  so a contract test can hold it to "no undocumented status".

  python3 scripts/openapi.py          # rewrite openapi.json
  python3 scripts/openapi.py --check  # exit 1 if openapi.json is not what this writes
"""
import copy
import json
import pathlib
import re
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import serverless_yml  # noqa: E402  (the route table, one way of reading it)

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "spec" / "bacen-pix-api-2.9.0.yaml"
OUT = ROOT / "openapi.json"

BACEN_ERROR = "https://pix.bcb.gov.br/api/v2/error/"
TUCANO_ERROR = "https://tucano.dev/problems/"

SCOPES = {
    "cob.read": "Read immediate charges",
    "cob.write": "Create, revise and remove immediate charges",
    "pix.read": "Read received Pix and their refunds",
    "pix.write": "Request refunds",
    "webhook.read": "Read API Pix webhooks",
    "webhook.write": "Register and remove API Pix webhooks",
    "payloadlocation.read": "Read payload locations",
    "payloadlocation.write": "Create payload locations and unlink their charges",
    "envio.read": "Read Pix transfers sent",
    "envio.write": "Send Pix transfers",
    "saldo.read": "Read the balance",
    "extrato.read": "Read the statement",
    "dict.read": "Look up Pix keys in the DICT",
    "eventos.read": "Read the event log",
    "webhooks.read": "Read event webhook endpoints and their deliveries",
    "webhooks.write": "Register, rotate, replay and remove event webhook endpoints",
    "cobv.read": "Read charges with a due date",
    "cobv.write": "Create, revise and remove charges with a due date",
    "lotecobv.read": "Read batches of charges with a due date",
    "lotecobv.write": "Submit and revise batches of charges with a due date",
    "rec.read": "Read Pix Automático recurrences",
    "rec.write": "Create and cancel Pix Automático recurrences",
    "solicrec.read": "Read recurrence confirmation requests",
    "solicrec.write": "Send and cancel recurrence confirmation requests",
    "cobr.read": "Read recurring charges",
    "cobr.write": "Create, cancel and retry recurring charges",
    "webhookrec.read": "Read the recurrence callback",
    "webhookrec.write": "Register and remove the recurrence callback",
    "webhookcobr.read": "Read the recurring-charge callback",
    "webhookcobr.write": "Register and remove the recurring-charge callback",
    "payloadlocationrec.read": "Read recurrence payload locations",
    "payloadlocationrec.write": "Create recurrence payload locations and unlink their recurrences",
}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties, required=()):
    out = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    return out


STRING = {"type": "string"}
TIMESTAMP = {"type": "string", "format": "date-time"}
VALOR = {"type": "string", "pattern": r"^\d{1,10}\.\d{2}$"}
PAGINACAO_QUERY = [
    {"name": "paginacao.paginaAtual", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {"name": "paginacao.itensPorPagina", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
]

# Schemas of our extensions (their responses are checked against these by schemathesis).
EXTENSION_SCHEMAS = {
    "TokenRequest": obj({
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "scope": {"type": "string", "description": "Space-separated scopes; default all of the client's."},
        "client_id": STRING, "client_secret": STRING,
    }, ["grant_type"]),
    "Token": obj({
        "access_token": STRING, "token_type": {"type": "string", "enum": ["Bearer"]},
        "expires_in": {"type": "integer", "minimum": 1}, "scope": STRING,
    }, ["access_token", "token_type", "expires_in", "scope"]),
    "TokenError": obj({
        "error": {"type": "string", "enum": ["invalid_request", "invalid_client", "invalid_grant",
                                             "unauthorized_client", "unsupported_grant_type", "invalid_scope"]},
        "error_description": STRING,
    }, ["error"]),
    "Saldo": obj({"disponivel": VALOR, "pendente": VALOR, "horario": TIMESTAMP},
                 ["disponivel", "pendente", "horario"]),
    "Lancamento": obj({
        "id": STRING, "horario": TIMESTAMP, "tipo": STRING, "conta": {"type": "string", "enum": ["DISPONIVEL", "PENDENTE"]},
        "natureza": {"type": "string", "enum": ["CREDITO", "DEBITO"]}, "valor": VALOR,
        "referencia": {"type": "object"},
    }, ["id", "horario", "tipo", "conta", "natureza", "valor"]),
    "Extrato": obj({"parametros": {"type": "object"}, "lancamentos": {"type": "array", "items": ref("Lancamento")}},
                   ["parametros", "lancamentos"]),
    "Favorecido": obj({
        "chave": {"type": "string", "maxLength": 77},
        "contaBanco": obj({
            "ispb": {"type": "string", "pattern": r"^[0-9]{8}$"}, "agencia": STRING, "conta": STRING,
            "tipoConta": STRING, "cpf": STRING, "cnpj": STRING, "nome": STRING, "documento": STRING,
        }),
        "nome": STRING,
    }),
    "EnvioSolicitado": obj({
        "valor": VALOR, "favorecido": ref("Favorecido"), "descricao": {"type": "string", "maxLength": 140},
    }, ["valor", "favorecido"]),
    "EnvioQrCode": obj({
        "pixCopiaECola": {"type": "string", "maxLength": 512}, "valor": VALOR,
        "descricao": {"type": "string", "maxLength": 140},
    }, ["pixCopiaECola"]),
    "Envio": obj({
        "idEnvio": STRING, "endToEndId": STRING, "valor": VALOR, "favorecido": ref("Favorecido"),
        "descricao": STRING, "txid": STRING,
        "status": {"type": "string", "enum": ["EM_PROCESSAMENTO", "REALIZADO", "NAO_REALIZADO"]},
        "horario": obj({"solicitacao": TIMESTAMP, "liquidacao": TIMESTAMP}), "motivo": STRING, "alerta": STRING,
        "devolucoes": {"type": "array", "items": {"type": "object"}},
    }, ["idEnvio", "endToEndId", "valor", "favorecido", "status", "horario"]),
    "Envios": obj({"parametros": {"type": "object"}, "envios": {"type": "array", "items": ref("Envio")}},
                  ["parametros", "envios"]),
    "EntradaDict": obj({
        "chave": STRING, "tipoChave": STRING, "nome": STRING, "documento": STRING, "ispb": STRING,
    }, ["chave"]),
    "EndpointSolicitado": obj({
        "webhookUrl": {"type": "string", "maxLength": 512},
        "eventos": {"type": "array", "items": STRING, "minItems": 1, "maxItems": 20},
    }, ["webhookUrl"]),
    "Endpoint": obj({
        "id": {"type": "string", "format": "uuid"}, "webhookUrl": STRING,
        "eventos": {"type": "array", "items": STRING}, "status": STRING, "criacao": TIMESTAMP,
        "desativacao": {"type": "object"}, "segredo": STRING,
    }, ["id", "webhookUrl", "status", "criacao"]),
    "Endpoints": obj({"webhooks": {"type": "array", "items": ref("Endpoint")}}),
    "Entregas": obj({"entregas": {"type": "array", "items": {"type": "object"}}}),
    # Standard Webhooks' event shape: what an event webhook posts is what the log answers.
    "Evento": obj({"id": STRING, "type": STRING, "timestamp": TIMESTAMP, "data": {"type": "object"}},
                  ["id", "type", "timestamp", "data"]),
    "Eventos": obj({"eventos": {"type": "array", "items": ref("Evento")},
                    "proximoCursor": {"type": ["string", "null"]}}, ["eventos"]),
    "JwkSet": obj({"keys": {"type": "array", "minItems": 1, "items": obj({
        "kty": {"type": "string", "enum": ["RSA"]}, "use": {"type": "string", "enum": ["sig"]},
        "key_ops": {"type": "array", "items": {"type": "string", "enum": ["verify"]}},
        "alg": {"type": "string", "enum": ["RS256"]}, "kid": STRING, "x5t": STRING,
        "x5c": {"type": "array", "minItems": 1, "items": STRING}, "n": STRING, "e": STRING,
    }, ["kty", "use", "alg", "kid", "x5t", "x5c", "n", "e"])}}, ["keys"]),
    "NotificacaoRail": {"type": "object", "description": "A signed message from the Pix rail (internal)."},
    "LoteNotificacoesRail": {"type": "array", "minItems": 1, "maxItems": 100, "items": ref("NotificacaoRail"),
                             "description": "A batch of signed messages from the Pix rail (internal): each is "
                                            "answered in `resultados`, in order, as it would be alone."},
}


def problem(description):
    return {"description": description,
            "content": {"application/problem+json": {"schema": ref("Problema")}}}


def json_response(description, schema):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema):
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def path_param(name, schema=None):
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string", "maxLength": 77}}


def interval(required):
    return [{"name": "inicio", "in": "query", "required": required, "schema": TIMESTAMP},
            {"name": "fim", "in": "query", "required": required, "schema": TIMESTAMP}]


# Our operations, by function name.
EXTENSIONS = {
    "oauth_token": {
        "summary": "Get an access token (OAuth2 client credentials, RFC 6749 §4.4)",
        "description": "Authenticate the client with HTTP Basic (client_id:client_secret) or with "
                       "client_id and client_secret in the body; send the body as a form or as JSON.",
        "tags": ["OAuth"],
        "security": [{"ClientBasic": []}, {}],
        "requestBody": {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": ref("TokenRequest")},
            "application/json": {"schema": ref("TokenRequest")}}},
        "responses": {
            "200": json_response("The token", ref("Token")),
            "400": json_response("RFC 6749 §5.2 error", ref("TokenError")),
            "401": json_response("The client could not be authenticated (invalid_client)", ref("TokenError")),
        },
    },
    "payload_get": {
        "summary": "A dynamic BR Code's payload (read by the payer's bank)",
        "description": "Bacen's PayloadCobImediata, or for a charge with a due date PayloadCobV priced for the "
                       "payment date DPP (default today), as a compact JWS (RS256; header kid, x5t, jku on this "
                       "host). DPP and codMun matter only to a charge with a due date.",
        "tags": ["Payload"],
        "security": [],
        "parameters": [path_param("token", {"type": "string", "pattern": "^[0-9a-f]{32}$"}),
                       {"name": "DPP", "in": "query", "required": False,
                        "description": "The payer's intended payment date (YYYY-MM-DD), not before today",
                        "schema": {"type": "string", "format": "date"}},
                       {"name": "codMun", "in": "query", "required": False,
                        "description": "The payer's municipality (IBGE, seven digits)",
                        "schema": {"type": "string", "pattern": "^[0-9]{7}$"}}],
        "responses": {"200": {"description": "The payload, signed",
                              "content": {"application/jose": {"schema": {
                                  "type": "string", "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$"}}}}},
    },
    "loc_qrcode_get": {
        "summary": "A location's BR Code and its QR image (PNG data URL; SVG with Accept: image/svg+xml)",
        "tags": ["Payload"],
        "parameters": [path_param("id", {"type": "string", "pattern": "^[0-9]{1,18}$"})],
        "responses": {"200": {"description": "The BR Code and its image", "content": {
            "application/json": {"schema": obj({"qrcode": STRING, "imagemQrcode": {
                "type": "string", "pattern": "^data:image/png;base64,[A-Za-z0-9+/]+=*$"}}, ["qrcode", "imagemQrcode"])},
            "image/svg+xml": {"schema": {"type": "string"}}}}},
    },
    "jwks_get": {
        "summary": "The keys payloads are signed with (JWK Set, RFC 7517)",
        "tags": ["Payload"],
        "security": [],
        "responses": {"200": json_response("The key set", ref("JwkSet"))},
    },
    "openapi_get": {
        "summary": "This document", "tags": ["Tucano"], "security": [],
        "responses": {"200": json_response("The OpenAPI 3.1 document", {"type": "object"})},
    },
    "rail_notification": {
        "summary": "A signed notification from the Pix rail, or a batch of them (internal)",
        "tags": ["Interno"],
        "security": [],
        "requestBody": json_body({"oneOf": [ref("NotificacaoRail"), ref("LoteNotificacoesRail")]}),
        "responses": {"200": json_response("Recorded (a batch: one result per notification, in order)",
                                           {"type": "object"})},
    },
    "balance_get": {"summary": "The balance", "tags": ["Saldo"],
                    "responses": {"200": json_response("The balance", ref("Saldo"))}},
    "statement_get": {
        "summary": "The statement: every posting, newest first", "tags": ["Extrato"],
        "parameters": interval(False) + [{"name": "cursor", "in": "query", "schema": STRING},
                                         {"name": "limite", "in": "query",
                                          "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
        "responses": {"200": json_response("A page of postings", ref("Extrato"))},
    },
    "transfer_put": {
        "summary": "Send a Pix to a key or a bank account", "tags": ["Envio"],
        "parameters": [path_param("idEnvio", {"type": "string", "pattern": "^[a-zA-Z0-9]{1,35}$"})],
        "requestBody": json_body(ref("EnvioSolicitado")),
        "responses": {"201": json_response("The transfer", ref("Envio")),
                      "200": json_response("The transfer already made with this idEnvio", ref("Envio"))},
    },
    "transfer_qr_put": {
        "summary": "Pay a BR Code", "tags": ["Envio"],
        "parameters": [path_param("idEnvio", {"type": "string", "pattern": "^[a-zA-Z0-9]{1,35}$"})],
        "requestBody": json_body(ref("EnvioQrCode")),
        "responses": {"201": json_response("The transfer", ref("Envio")),
                      "200": json_response("The transfer already made with this idEnvio", ref("Envio"))},
    },
    "transfer_get": {
        "summary": "A transfer", "tags": ["Envio"],
        "parameters": [path_param("idEnvio", {"type": "string", "maxLength": 35})],
        "responses": {"200": json_response("The transfer", ref("Envio"))},
    },
    "transfer_list": {
        "summary": "Transfers in an interval", "tags": ["Envio"],
        "parameters": interval(True) + [{"name": "status", "in": "query", "schema": STRING}] + PAGINACAO_QUERY,
        "responses": {"200": json_response("A page of transfers", ref("Envios"))},
    },
    "dict_get": {
        "summary": "Look up a Pix key (the holder's name and masked document)", "tags": ["DICT"],
        "parameters": [path_param("chave")],
        "responses": {"200": json_response("The entry", ref("EntradaDict"))},
    },
    "endpoint_post": {
        "summary": "Register an event webhook endpoint (answers its secret once)", "tags": ["Webhooks"],
        "requestBody": json_body(ref("EndpointSolicitado")),
        "responses": {"201": json_response("The endpoint", ref("Endpoint"))},
    },
    "endpoint_list": {"summary": "Event webhook endpoints", "tags": ["Webhooks"],
                      "responses": {"200": json_response("Every endpoint", ref("Endpoints"))}},
    "endpoint_get": {"summary": "An event webhook endpoint", "tags": ["Webhooks"],
                     "parameters": [path_param("id", {"type": "string", "maxLength": 64})],
                     "responses": {"200": json_response("The endpoint", ref("Endpoint"))}},
    "endpoint_delete": {"summary": "Remove an event webhook endpoint", "tags": ["Webhooks"],
                        "parameters": [path_param("id", {"type": "string", "maxLength": 64})],
                        "responses": {"204": {"description": "Removed"}}},
    "endpoint_rotate": {"summary": "Rotate an endpoint's secret (the old one signs beside it for 24 h)",
                        "tags": ["Webhooks"],
                        "parameters": [path_param("id", {"type": "string", "maxLength": 64})],
                        "responses": {"200": json_response("The endpoint with its new secret", ref("Endpoint"))}},
    "endpoint_replay": {"summary": "Re-enable an endpoint and deliver again what failed", "tags": ["Webhooks"],
                        "parameters": [path_param("id", {"type": "string", "maxLength": 64})],
                        "responses": {"200": json_response("What is delivered again", {"type": "object"})}},
    "endpoint_deliveries": {"summary": "An endpoint's deliveries", "tags": ["Webhooks"],
                            "parameters": [path_param("id", {"type": "string", "maxLength": 64})],
                            "responses": {"200": json_response("Its deliveries", ref("Entregas"))}},
    "event_list": {
        "summary": "The event log, oldest first", "tags": ["Eventos"],
        "parameters": [{"name": "cursor", "in": "query", "schema": STRING},
                       {"name": "limite", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                       {"name": "tipo", "in": "query", "schema": STRING}],
        "responses": {"200": json_response("A page of events", ref("Eventos"))},
    },
    "event_get": {"summary": "An event", "tags": ["Eventos"],
                  "parameters": [path_param("id", {"type": "string", "maxLength": 64})],
                  "responses": {"200": json_response("The event", ref("Evento"))}},
}
# A charge with a due date's payload at the spec's /cobv path: the same operation.
EXTENSIONS["payload_cobv_get"] = {
    **EXTENSIONS["payload_get"],
    "summary": "A charge with a due date's payload, at the spec's /cobv path (read by the payer's bank)",
    "description": "The payload of GET /qr/v2/{token}, at the path Bacen gives charges with a due date "
                   "(GET /cobv/{pixUrlAccessToken}): their locations are made here, so that a payer's bank knows "
                   "from the URL to send DPP and codMun.",
}


def anchor(pattern):
    """A Bacen regex as JSON Schema means it: anchored, without the CPF pattern's slashes."""
    p = pattern
    if len(p) > 1 and p.startswith("/") and p.endswith("/"):
        p = p[1:-1]
    if not p.startswith("^"):
        p = "^" + p
    if not p.endswith("$"):
        p = p + "$"
    return p


def walk(node, fn):
    if isinstance(node, dict):
        fn(node)
        for v in node.values():
            walk(v, fn)
    elif isinstance(node, list):
        for v in node:
            walk(v, fn)


def refs_in(node):
    found = set()
    walk(node, lambda d: found.add(d["$ref"]) if isinstance(d.get("$ref"), str) else None)
    return found


def resolve(bacen, pointer):
    node = bacen
    for part in pointer.lstrip("#/").split("/"):
        node = node[part]
    return node


def bacen_operation(bacen, path, method):
    item = bacen["paths"].get(path) or {}
    op = item.get(method.lower())
    if op is None:
        return None
    op = copy.deepcopy(op)
    # Path-level parameters move into the operation (the path item is rebuilt per route).
    params = [copy.deepcopy(p) for p in item.get("parameters", [])] + op.get("parameters", [])
    if params:
        op["parameters"] = params
    return op


def add_common_responses(op, route):
    responses = op.setdefault("responses", {})
    access, idem = route["access"], route["idempotency"]

    def add(code, description):
        responses.setdefault(code, problem(description))

    if route["function"] != "oauth_token":
        add("400", "The request breaks the schema or the rules (problem types per resource)")
        add("413", "The body is larger than 64 KiB (2 MiB for a batch of charges, 256 KiB for the rail's notifications)")
        add("415", "The body is not JSON")
        add("500", "A fault; the body carries only a correlationId")
        add("503", "A dependency is unavailable; retry later")
    if "{" in route["path"]:
        add("404", "Not found")
    if access == "Merchant":
        add("401", "No valid access token")
        add("403", "The token lacks the operation's scope")
        add("429", "A per-merchant quota is used up (Retry-After)")
    if access == "Rail":
        add("401", "Not signed by the rail")
    if idem in ("Required", "Optional"):
        add("409", "A request with this Idempotency-Key is still running (Retry-After)")
        add("422", "This Idempotency-Key was used for another request")
    if idem in ("Required", "Optional"):
        op.setdefault("parameters", []).append({
            "name": "Idempotency-Key", "in": "header", "required": idem == "Required",
            "description": "IETF httpapi Idempotency-Key: the same key and request replay the first answer.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"}})
    # Problem bodies of Bacen responses are `application/problem+json` with Bacen's schema.
    return op


def fix_bacen_bugs(schemas):
    """Bacen's own spec bugs (2.9.0), fixed in our copy; each is what its examples and text
    mean, and what a Bacen client reads."""
    # The list of received Pix is `pix`; `cobs` is a copy-paste from the charge lists.
    pc = schemas.get("PixConsultados")
    if pc and "cobs" in pc.get("required", []):
        pc["required"] = ["parametros", "pix"]
    # `idCob` is required of each listed charge but defined nowhere.
    for name in ("CobsConsultadas", "CobsVConsultadas"):
        for part in schemas.get(name, {}).get("properties", {}).get("cobs", {}).get("items", {}).get("allOf", []):
            if "idCob" in part.get("required", []):
                part["required"] = [r for r in part["required"] if r != "idCob"]
    # A webhook is identified by its Pix key (its example, and the changelog's #120); the
    # schema requires a `cnpj` described as a debtor filter (a copy-paste).
    wc = schemas.get("WebhookCompleto")
    if wc and "cnpj" in wc.get("required", []):
        wc["required"] = ["webhookUrl", "chave", "criacao"]
        wc["properties"].pop("cnpj", None)
        wc["properties"]["chave"] = {"type": "string", "maxLength": 77, "title": "Chave DICT do recebedor"}

    # A charge names its location by `id`; the schema also requires a `tipoCob` it does not
    # define (Bacen's examples send only the id). Required only where defined.
    for name in ("PayloadLocationCob", "PayloadLocationCobV"):
        plc = schemas.get(name)
        if plc and "tipoCob" in plc.get("required", []) and "tipoCob" not in plc.get("properties", {}):
            plc["required"] = [r for r in plc["required"] if r in plc.get("properties", {})]

    # Pix Automático's schemas require fields they define nowhere (copy-paste slips, and
    # one stray quote): a location's `tipo` (its examples have none); `idRec`/`retentativa`
    # of every recurrence body (the policy is `politicaRetentativa`; a new one has no id
    # yet); a request's `pagador` (it is `destinatario`) and `rec`; the payer's ISPB at the
    # top level (it is `pagador.ispbParticipante`); `atualizacao"`. Required only where defined.
    def defined(schema):
        names = set(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            if "$ref" in part:
                part = schemas.get(part["$ref"].rsplit("/", 1)[-1], {})
            names |= defined(part)
        return names
    for name in ("PayloadLocationRecGerada", "RecBase", "SolicRecBase", "SolicRecCompleta", "DadosPagadorRec",
                 "RecNotification"):
        schema = schemas.get(name)
        if schema and "required" in schema:
            wanted = [r.rstrip('"') for r in schema["required"]]
            schema["required"] = [r for r in wanted if r in defined(schema)]

    # Where a txid may be short (received Pix, their filter), the spec writes
    # allOf[TxId (26 to 35 characters), {pattern: 1 to 35}]: an intersection that still
    # demands 26 to 35. Its changelog (#269) means 1 to 35 there.
    def short_txid(d):
        for key, value in list(d.items()):
            parts = value.get("allOf") if isinstance(value, dict) else None
            if (isinstance(parts, list) and len(parts) == 2 and parts[0] == {"$ref": "#/components/schemas/TxId"}
                    and parts[1].get("pattern", "").strip("^$") == "[a-zA-Z0-9]{1,35}"):
                d[key] = {"type": "string", "pattern": "^[a-zA-Z0-9]{1,35}$",
                          "description": "txid, 1 to 35 characters where Bacen allows short ones"}
    walk(schemas, short_txid)

    # A location is a host and path without scheme (its own example; the BR Code's field):
    # not a `uri` in the JSON Schema sense.
    def no_uri_format(d):
        if isinstance(d.get("properties"), dict):
            loc = d["properties"].get("location")
            if isinstance(loc, dict) and loc.get("format") == "uri":
                del loc["format"]
    walk(schemas, no_uri_format)


def build():
    bacen = yaml.safe_load(SPEC.read_text())
    paths, needed = {}, set()
    for route in serverless_yml.table()["routes"]:
        method, path, fn = route["method"], route["path"], route["function"]
        bacen_path = path[len("/v2"):] if path.startswith("/v2/") or path == "/v2" else None
        op = bacen_operation(bacen, bacen_path, method) if bacen_path else None
        if op is None:
            if fn not in EXTENSIONS:
                raise SystemExit(f"no description for {fn} ({method} {path}): add it to EXTENSIONS")
            op = copy.deepcopy(EXTENSIONS[fn])
            op.setdefault("tags", ["Tucano"])
        else:
            op.setdefault("tags", ["API Pix"])
        op["operationId"] = fn
        if route["access"] == "Merchant":
            op["security"] = [{"OAuth2": [route["scope"]]}]
        elif "security" not in op:
            op["security"] = []
        op = add_common_responses(op, route)
        paths.setdefault(path, {})[method.lower()] = op
        needed |= refs_in(op)

    # Bacen components the operations reach, transitively.
    components = {"schemas": {}, "parameters": {}, "responses": {}, "requestBodies": {}, "examples": {}}
    seen, todo = set(), list(needed)
    while todo:
        r = todo.pop()
        if r in seen or not r.startswith("#/components/"):
            continue
        seen.add(r)
        _, _, kind, name = r.split("/")[:4]
        if kind == "schemas" and name in EXTENSION_SCHEMAS:
            continue
        node = copy.deepcopy(resolve(bacen, f"#/components/{kind}/{name}"))
        components[kind][name] = node
        todo.extend(refs_in(node))
    for name, schema in EXTENSION_SCHEMAS.items():
        if name not in components["schemas"]:
            components["schemas"][name] = schema
    fix_bacen_bugs(components["schemas"])
    # In name order: the file must not depend on the order sets iterate in.
    components = {k: dict(sorted(v.items())) for k, v in components.items() if v}
    components["securitySchemes"] = {
        "OAuth2": {"type": "oauth2", "description": "Client credentials; POST /oauth/token.",
                   "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": SCOPES}}},
        "ClientBasic": {"type": "http", "scheme": "basic",
                        "description": "client_id:client_secret, for the token endpoint only."},
    }

    doc = {
        "openapi": "3.1.0",
        "info": {
            "title": "Tucano API",
            "version": "2.9.0-tucano.1",
            "summary": "An open Pix payments API following Banco Central's API Pix 2.9.0",
            "description": "The API Pix operations keep Bacen's schemas (patterns anchored). "
                           f"Errors are application/problem+json: Bacen's types under {BACEN_ERROR}, "
                           f"ours under {TUCANO_ERROR} (NaoAutenticado, ChaveIdempotenciaEmUso, "
                           "ChaveIdempotenciaReutilizada, RateLimited, RequisicaoMuitoGrande, "
                           "TipoDeConteudoNaoSuportado, MetodoNaoPermitido, AssinaturaInvalida, "
                           "EnvioOperacaoInvalida, EnvioNaoEncontrado, EnvioConsultaInvalida, "
                           "ChaveNaoEncontrada, EventosConsultaInvalida).",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "security": [{"OAuth2": []}],
        "paths": paths,
        "components": components,
    }

    def fix_patterns(d):
        if isinstance(d.get("pattern"), str):
            d["pattern"] = anchor(d["pattern"])
    walk(doc, fix_patterns)
    return doc


def render(doc):
    return json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def main():
    if not SPEC.exists():
        print(f"openapi.py: Bacen's spec is not at {SPEC}; openapi.json left as committed", file=sys.stderr)
        return 0 if "--check" in sys.argv else 1
    text = render(build())
    if "--check" in sys.argv:
        if OUT.read_text() != text:
            print("openapi.json is not what scripts/openapi.py writes: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(doc_paths(text))} paths)")
    return 0


def doc_paths(text):
    return json.loads(text)["paths"]


if __name__ == "__main__":
    sys.exit(main())
