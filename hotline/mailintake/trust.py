"""Whether a mail really comes from an allow-listed sender: the From header alone never decides.

A sender's trust method asks for our own MTA's ``Authentication-Results`` vouching for the From domain
(aligned DKIM, SPF or DMARC pass), for the sender's secret token in the subject or body, or for both.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from hotline.mailintake import authresults
from hotline.mailintake.message import ParsedMail
from hotline.mailintake.models import AllowedSender, TrustMethod


@dataclass(frozen=True)
class Decision:
    trusted: bool
    passed: list[str] = field(default_factory=list)  # what vouched, e.g. "dkim=pass (partner.example)", "token"
    reason: str = ""  # why not, naming what was missing


def token_matches(sender: AllowedSender, mail: ParsedMail) -> bool:
    if not sender.token_hash:
        return False
    return any(hmac.compare_digest(AllowedSender.hash_token(t), sender.token_hash) for t in mail.tokens())


def decide(sender: AllowedSender, mail: ParsedMail, *, authserv_id: str) -> Decision:
    auth_ok, passed = authresults.verdict(mail.auth_results, authserv_id=authserv_id, from_domain=mail.sender_domain)
    token_ok = token_matches(sender, mail)
    passed = passed + (["token"] if token_ok else [])
    method = sender.trust_method
    trusted = {
        TrustMethod.AUTH_RESULTS: auth_ok,
        TrustMethod.TOKEN: token_ok,
        TrustMethod.EITHER: auth_ok or token_ok,
        TrustMethod.BOTH: auth_ok and token_ok,
    }.get(TrustMethod(method), False)
    if trusted:
        return Decision(True, passed)
    return Decision(False, passed, _reason(sender, auth_ok=auth_ok, token_ok=token_ok, authserv_id=authserv_id,
                                           domain=mail.sender_domain))


def _reason(sender: AllowedSender, *, auth_ok: bool, token_ok: bool, authserv_id: str, domain: str) -> str:
    missing = []
    if sender.needs_auth and not auth_ok:
        if not authserv_id:
            missing.append("HOTLINE_MAIL_AUTHSERV_ID is not set, so no Authentication-Results count")
        else:
            missing.append(f"no Authentication-Results of {authserv_id} show an aligned DKIM, SPF or DMARC pass "
                           f"for {domain}")
    if sender.needs_token and not token_ok:
        missing.append("no valid [hotline:<token>] in the subject or body" if sender.token_hash
                       else "the sender has no token yet")
    joiner = " and " if sender.trust_method == TrustMethod.EITHER else "; "
    return joiner.join(missing)
