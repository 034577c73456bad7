#!/usr/bin/env python3
"""A Bacen API Pix client written by others (PyPI `pypix-api`, pinned in scripts/contract.sh)
against a running Tucano, with only its base URL and credentials changed: it gets a token
from /oauth/token, creates charges (PUT with a txid, POST without), revises, reads and
lists them, lists and reads the Pix received (paid through the sandbox rail), and asks
for a refund. Exits non-zero, saying what went wrong, at the first answer that is not the
one the standard promises.

  bacen_client.py BASE_URL CLIENT_ID CLIENT_SECRET PIX_KEY RAIL_URL
"""
import datetime
import json
import sys
import time
import urllib.request

from pypix_api import OAuth2Client
from pypix_api.banks.base import BankPixAPIBase

BASE, CLIENT_ID, CLIENT_SECRET, PIX_KEY, RAIL = sys.argv[1:6]


class Tucano(BankPixAPIBase):
    """The library's own bank adapter shape; only the URLs are Tucano's."""
    BASE_URL = f"{BASE}/v2"
    TOKEN_URL = f"{BASE}/oauth/token"

    def get_base_url(self):
        return self.BASE_URL

    def get_bank_code(self):
        return "tucano"


def check(condition, what, got=None):
    if not condition:
        print(f"bacen client: {what}" + (f": {json.dumps(got, ensure_ascii=False)[:600]}" if got is not None else ""),
              file=sys.stderr)
        sys.exit(1)


def pay(pix_copia_e_cola):
    """The payer's side: the sandbox rail pays the BR Code and notifies Tucano."""
    req = urllib.request.Request(f"{RAIL}/pagamentos", data=json.dumps({"pixCopiaECola": pix_copia_e_cola}).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.load(res)


# sandbox_mode: no client certificate (mTLS is the custom domain's, in AWS).
oauth = OAuth2Client(token_url=Tucano.TOKEN_URL, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, sandbox_mode=True)
pix = Tucano(oauth=oauth, scopes="cob.write cob.read pix.write pix.read")

now = datetime.datetime.now(datetime.timezone.utc)
inicio = (now - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
fim = (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
txid = f"bacenclient{int(time.time())}abcdefghijklmno"[:35]

created = pix.criar_cob(txid, {"calendario": {"expiracao": 3600}, "valor": {"original": "12.34"}, "chave": PIX_KEY,
                               "solicitacaoPagador": "Pedido 1"})
check(created.get("txid") == txid and created.get("status") == "ATIVA", "PUT /cob/{txid} did not create", created)
check(created.get("pixCopiaECola", "").startswith("000201"), "the charge has no BR Code", created)

auto = pix.criar_cob_auto_txid({"calendario": {"expiracao": 600}, "valor": {"original": "1.00"}, "chave": PIX_KEY})
check(len(auto.get("txid", "")) >= 26, "POST /cob did not choose a txid", auto)

revised = pix.revisar_cob(txid, {"valor": {"original": "10.00"}})
check(revised.get("revisao") == 1 and revised["valor"]["original"] == "10.00", "PATCH /cob did not revise", revised)

read = pix.consultar_cob(txid)
check(read.get("valor", {}).get("original") == "10.00", "GET /cob/{txid} is not the revised charge", read)

listed = pix.consultar_cobs(inicio=inicio, fim=fim)
txids = {c["txid"] for c in listed.get("cobs", [])}
check({txid, auto["txid"]} <= txids, "GET /cob does not list both charges", listed)
check(listed["parametros"]["paginacao"]["quantidadeDePaginas"] >= 1, "a list has at least one page", listed)

paid = pay(read["pixCopiaECola"])
e2eid = paid.get("endToEndId")
check(isinstance(e2eid, str) and len(e2eid) == 32, "the sandbox rail did not pay", paid)
for _ in range(100):
    concluded = pix.consultar_cob(txid)
    if concluded.get("status") == "CONCLUIDA":
        break
    time.sleep(0.1)
check(concluded.get("status") == "CONCLUIDA", "the paid charge did not conclude", concluded)
check(concluded.get("pix", [{}])[0].get("endToEndId") == e2eid, "the concluded charge does not show its pix", concluded)

received = pix.consultar_pix(inicio=inicio, fim=fim)
check(any(p.get("endToEndId") == e2eid for p in received.get("pix", [])), "GET /pix does not list the Pix", received)
one = pix.consultar_pix_por_e2eid(e2eid)
check(one.get("valor") == "10.00" and one.get("txid") == txid, "GET /pix/{e2eid} is not the Pix", one)

refund = pix.solicitar_devolucao_pix(e2eid, "devbacen1", {"valor": "2.50"})
check(refund.get("id") == "devbacen1" and refund.get("status") in ("EM_PROCESSAMENTO", "DEVOLVIDO"),
      "PUT /pix/{e2eid}/devolucao/{id} did not request the refund", refund)

print(f"bacen client (pypix-api): token, PUT/POST/PATCH/GET/list /cob, paid {e2eid}, GET /pix, refund: all as the standard says")
