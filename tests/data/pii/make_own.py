"""Generates pii-own.jsonl: fivelens's own labelled texts for the redactor (formats beyond the
development set: international phones, more card issuers and IBAN countries, IPv6 forms, provider
keys and credential contexts), and look-alike negatives. Deterministic: `python3 make_own.py`.

Format as pii-dev.jsonl: one object per line with `text`, `entities` ({type, start, end} in code
points, end exclusive) and `kind` (`pii` or `negative`).
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from pathlib import Path

R = random.Random(20261127)


def digits(n: int) -> str:
    return "".join(R.choice(string.digits) for _ in range(n))


def alnum(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(R.choice(alphabet) for _ in range(n))


# ---- generators per type -------------------------------------------------------------------

FIRST = ["ana", "bo", "chen", "dmitri", "elif", "femi", "gita", "hugo", "ines", "jonas", "kai", "lena"]
LAST = ["silva", "nguyen", "okafor", "muller", "rossi", "tanaka", "kowalski", "haddad", "berg"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.co.uk", "example.io", "example.dev", "uni.example.edu"]


def email() -> str:
    f, last = R.choice(FIRST), R.choice(LAST)
    local = R.choice(
        [
            f"{f}.{last}",
            f"{f}_{last}",
            f"{f}{R.randint(1, 99)}",
            f"{f}+{R.choice(['news', 'ci', 'x'])}",
            f"{f[0]}{last}",
            f"{f}-{last}",
        ]
    )
    out = f"{local}@{R.choice(DOMAINS)}"
    return out.upper() if R.random() < 0.05 else out


def phone() -> str:
    a, b, c = f"{R.randint(200, 989)}", digits(3), digits(4)
    return R.choice(
        [
            f"({a}) {b}-{c}",
            f"{a}-{b}-{c}",
            f"{a}.{b}.{c}",
            f"+1 {a} {b} {c}",
            f"+1-{a}-{b}-{c}",
            f"+1 ({a}) {b}-{c}",
            f"1-800-{b}-{c}",
            f"+1{a}{b}{c}",
            f"+44 20 {digits(4)} {digits(4)}",
            f"+44 7{digits(3)} {digits(6)}",
            f"+33 {R.randint(1, 9)} {digits(2)} {digits(2)} {digits(2)} {digits(2)}",
            f"+49 30 {digits(8)}",
            f"+49 151 {digits(8)}",
            f"+91 {R.randint(70000, 99999)} {digits(5)}",
            f"+81 3-{digits(4)}-{digits(4)}",
            f"+61 2 {digits(4)} {digits(4)}",
            f"+55 11 9{digits(4)}-{digits(4)}",
            f"+86 138 {digits(4)} {digits(4)}",
            f"+34 6{digits(2)} {digits(3)} {digits(3)}",
            f"+39 06 {digits(4)} {digits(4)}",
            f"0044 20 {digits(4)} {digits(4)}",
        ]
    )


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + digits(length - len(prefix) - 1)
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def card() -> str:
    kind = R.choice(["visa", "visa", "mc", "mc2", "amex", "discover", "jcb", "diners", "unionpay"])
    if kind == "visa":
        n = luhn_complete("4", 16)
    elif kind == "mc":
        n = luhn_complete(str(R.randint(51, 55)), 16)
    elif kind == "mc2":
        n = luhn_complete(str(R.randint(2221, 2720)), 16)
    elif kind == "amex":
        n = luhn_complete(R.choice(["34", "37"]), 15)
    elif kind == "discover":
        n = luhn_complete("6011", 16)
    elif kind == "jcb":
        n = luhn_complete(str(R.randint(3528, 3589)), 16)
    elif kind == "diners":
        n = luhn_complete("36", 14)
    else:
        n = luhn_complete("62", 16)
    sep = R.choice([" ", "-", ".", ""])
    if len(n) == 15:
        parts = [n[:4], n[4:10], n[10:]]
    elif len(n) == 14:
        parts = [n[:4], n[4:10], n[10:]]
    else:
        parts = [n[i : i + 4] for i in range(0, len(n), 4)]
    return sep.join(parts)


IBAN_SPECS = {
    "GB": "4a14n",
    "DE": "18n",
    "FR": "10n11c2n",
    "ES": "20n",
    "IT": "1a10n12c",
    "NL": "4a10n",
    "BE": "12n",
    "CH": "5n12c",
    "AT": "16n",
    "PL": "24n",
    "SE": "20n",
    "NO": "11n",
    "DK": "14n",
    "IE": "4a14n",
    "PT": "21n",
}


def bban(spec: str) -> str:
    out = ""
    num = ""
    for ch in spec:
        if ch.isdigit():
            num += ch
            continue
        n = int(num)
        num = ""
        alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}[ch]
        out += "".join(R.choice(alphabet) for _ in range(n))
    return out


def iban() -> str:
    cc = R.choice(list(IBAN_SPECS))
    b = bban(IBAN_SPECS[cc])
    rearranged = b + cc + "00"
    value = int("".join(str(int(c, 36)) for c in rearranged))
    check = 98 - value % 97
    raw = f"{cc}{check:02d}{b}"
    if R.random() < 0.5:
        return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))
    return raw


def ssn() -> str:
    area = R.choice([x for x in range(1, 900) if x != 666])
    sep = R.choice(["-", "-", " "])
    return f"{area:03d}{sep}{R.randint(1, 99):02d}{sep}{R.randint(1, 9999):04d}"


def ip() -> str:
    kind = R.choice(["v4", "v4", "v6full", "v6short", "v6ll", "v6mapped"])
    if kind == "v4":
        return ".".join(str(R.randint(1, 254)) for _ in range(4))
    groups = [f"{R.randint(0, 0xFFFF):x}" for _ in range(8)]
    if kind == "v6full":
        return ":".join(groups)
    if kind == "v6short":
        return f"2001:db8:{groups[2]}::{groups[6]}:{groups[7]}"
    if kind == "v6ll":
        return f"fe80::{groups[4]}:{groups[5]}:{groups[6]}:{groups[7]}"
    return f"::ffff:192.0.2.{R.randint(1, 254)}"


URLSAFE = string.ascii_letters + string.digits + "-_"


def secret() -> tuple[str, str]:
    """(text around it, the secret): some secrets are labelled inside a context."""
    kind = R.choice(
        [
            "openai",
            "openai_old",
            "anthropic",
            "aws",
            "github",
            "github_pat",
            "slack",
            "google",
            "stripe",
            "ctx_pw",
            "ctx_key",
            "ctx_basic",
            "ctx_secret",
            "hf",
        ]
    )
    if kind == "openai":
        return "{}", "sk-proj-" + alnum(48, URLSAFE)
    if kind == "openai_old":
        return "{}", "sk-" + alnum(48)
    if kind == "anthropic":
        return "{}", "sk-ant-api03-" + alnum(93, URLSAFE) + "AA"
    if kind == "aws":
        return "{}", R.choice(["AKIA", "ASIA"]) + alnum(16, string.ascii_uppercase + "234567")
    if kind == "github":
        return "{}", R.choice(["ghp_", "gho_", "ghs_"]) + alnum(36)
    if kind == "github_pat":
        return "{}", "github_pat_" + alnum(22) + "_" + alnum(59)
    if kind == "slack":
        return "{}", f"xoxb-{digits(12)}-{digits(13)}-{alnum(24)}"
    if kind == "google":
        return "{}", "AIza" + alnum(35, URLSAFE)
    if kind == "stripe":
        return "{}", "sk_live_" + alnum(24)
    if kind == "hf":
        return "{}", "hf_" + alnum(34)
    if kind == "ctx_pw":
        return R.choice(["password: {}", "password={}", 'pwd="{}"', "passwd: {}"]), alnum(10) + R.choice(
            ["!", "#", "9", "%"]
        )
    if kind == "ctx_key":
        return R.choice(["api_key={}", "API_KEY: {}", '"apiKey": "{}"', "X_SECRET_KEY={}"]), alnum(32)
    if kind == "ctx_basic":
        raw = f"{R.choice(FIRST)}:{alnum(12)}".encode()
        return "Authorization: Basic {}", base64.b64encode(raw).decode()
    return R.choice(["client_secret={}", "access_token: {}"]), alnum(40, URLSAFE)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt() -> str:
    header = b64url(json.dumps({"alg": R.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}).encode())
    payload = b64url(
        json.dumps({"sub": digits(6), "name": R.choice(FIRST), "iat": 1700000000 + R.randint(0, 10**6)}).encode()
    )
    return f"{header}.{payload}.{b64url(R.randbytes(R.choice([32, 64, 256])))}"


# ---- texts -----------------------------------------------------------------------------------

TEMPLATES = {
    "EMAIL": [
        "Send the invoice to {} by Friday.",
        "From: {}\nSubject: refund",
        "cc {}; bcc nobody",
        "user ({}) asked for a reset",
    ],
    "PHONE": [
        "Call me at {} after 5pm.",
        "Tel.: {}",
        "my mobile is {}, landline unknown",
        "Reach support on {} (24/7).",
    ],
    "CREDIT_CARD": ["Charge card {} for the renewal.", "cc number: {} exp 08/29", "Paid with {}.", "card={}"],
    "IBAN": ["Wire it to {} today.", "IBAN: {}", "account {} (personal)", "Beneficiary IBAN {}."],
    "US_SSN": ["My SSN is {} if needed.", "social security number {}", "SSN: {}", "ssn {}."],
    "IP_ADDRESS": ["Login from {} was blocked.", "client_ip={}", "ssh admin@{} failed", "origin {} (vpn)"],
    "JWT": ["Authorization: Bearer {}", "token={}", "Here is my session {} please debug", "cookie: jwt={}; Path=/"],
}
GEN = {"EMAIL": email, "PHONE": phone, "CREDIT_CARD": card, "IBAN": iban, "US_SSN": ssn, "IP_ADDRESS": ip, "JWT": jwt}


def labelled(template: str, value: str, kind: str) -> dict[str, object]:
    start = template.index("{}")
    text = template.replace("{}", value, 1)
    return {"text": text, "entities": [{"type": kind, "start": start, "end": start + len(value)}], "kind": "pii"}


def combined() -> dict[str, object]:
    parts = [
        ("Hi, I'm ", None),
        (R.choice(FIRST).title(), None),
        (", write to ", None),
        (email(), "EMAIL"),
        (" or call ", None),
        (phone(), "PHONE"),
        (". Card ", None),
        (card(), "CREDIT_CARD"),
        (".", None),
    ]
    text, ents = "", []
    for chunk, kind in parts:
        if kind:
            ents.append({"type": kind, "start": len(text), "end": len(text) + len(chunk)})
        text += chunk
    return {"text": text, "entities": ents, "kind": "pii"}


def not_luhn(length: int) -> str:
    while True:
        n = str(R.randint(1, 9)) + digits(length - 1)
        total = sum(int(d) * 2 - 9 * (int(d) * 2 > 9) if i % 2 else int(d) for i, d in enumerate(reversed(n)))
        if total % 10:
            return n


def isbn13() -> str:
    body = "978" + digits(9)
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    return f"{body[:3]}-{body[3]}-{body[4:7]}-{body[7:12]}-{check}"


NEGATIVES = [
    lambda: f"Request {uuid.UUID(int=R.getrandbits(128), version=4)} took {R.randint(5, 900)} ms.",
    lambda: f"Commit {R.getrandbits(160):040x} merged into main.",
    lambda: f"trace_id={R.getrandbits(128):032x} span_id={R.getrandbits(64):016x}",
    lambda: f"traceparent: 00-{R.getrandbits(128):032x}-{R.getrandbits(64):016x}-01",
    lambda: (
        f"Deployed at 2026-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}"
        f"T{R.randint(0, 23):02d}:{R.randint(0, 59):02d}:{R.randint(0, 59):02d}.{digits(3)}Z"
    ),
    lambda: f"ts={1700000000000 + R.randint(0, 10**9)} epoch ms",
    lambda: f"Upgraded to v{R.randint(1, 30)}.{R.randint(0, 20)}.{R.randint(0, 40)} (build {digits(6)})",
    lambda: (
        f"Running Python {R.randint(3, 3)}.{R.randint(8, 13)}.{R.randint(0, 12)}"
        f" on kernel 6.{R.randint(1, 12)}.{R.randint(0, 99)}-generic"
    ),
    lambda: f"Order #{not_luhn(16)} shipped; refund id {not_luhn(16)}.",
    lambda: f"Invoice {not_luhn(13)} totals ${R.randint(1, 9999)}.{digits(2)}",
    lambda: f"ISBN {isbn13()} (paperback), {R.randint(100, 900)} pages",
    lambda: f"Color #{R.getrandbits(24):06x} at {R.randint(0, 100)}% opacity",
    lambda: (
        f"Meet at {R.randint(0, 23):02d}:{R.randint(0, 59):02d}:{R.randint(0, 59):02d},"
        f" ratio {R.randint(1, 9)}:{R.randint(1, 9)}"
    ),
    lambda: f"pod api-{R.getrandbits(40):010x}-{alnum(5, string.ascii_lowercase + string.digits)} restarted",
    lambda: f"Set max_tokens={R.choice([256, 1024, 4096])} and temperature=0.{R.randint(0, 9)}",
    lambda: f"Use scikit-learn (sk-learn) and ask-{alnum(6, string.ascii_lowercase)} prompts",
    lambda: f"Coordinates {R.randint(-89, 89)}.{digits(4)}, {R.randint(-179, 179)}.{digits(4)}",
    lambda: f"Latency p99 {R.randint(100, 999)}.{digits(2)} ms over {R.randint(1000, 99999)} requests",
    lambda: f"MAC {':'.join(f'{R.randint(0, 255):02x}' for _ in range(6))} joined the network",
    lambda: (
        f"Call std::vector<int>::size() then {alnum(4, string.ascii_lowercase)}::{alnum(5, string.ascii_lowercase)}()"
    ),
    lambda: f"Population {R.randint(1, 999):,} thousand; GDP {R.randint(1, 99)}.{digits(1)} trillion",
    lambda: f"Token usage: {R.randint(100, 9999)} input tokens, {R.randint(10, 999)} output tokens",
    lambda: f"password: reset via the link; token: none; secret: {R.choice(['redacted', 'required'])}",
    lambda: f"Chrome/{R.randint(100, 130)}.0.{R.randint(1000, 9999)}.{R.randint(10, 200)} Safari/537.36",
    lambda: f"Version {R.randint(1, 9)}.{R.randint(0, 9)}.{R.randint(0, 9)}.{R.randint(0, 9)} released",
    lambda: f"sha256:{R.getrandbits(256):064x}",
    lambda: f"Zip {digits(5)}-{digits(4)}, PO box {digits(4)}",
    lambda: f"Tracking {R.choice(['1Z', 'TBA'])}{alnum(16, string.ascii_uppercase + string.digits)}",
    lambda: f"Temperatures: {R.randint(-20, 40)}.{digits(1)} C at {R.randint(1, 12)}.{R.randint(1, 28)}.2026",
    lambda: f"Section 4.{R.randint(1, 9)}.{R.randint(1, 9)} of RFC {R.randint(1000, 9999)}",
]


def main() -> None:
    rows: list[dict[str, object]] = []
    for kind, gen in GEN.items():
        for _ in range(70):
            rows.append(labelled(R.choice(TEMPLATES[kind]), gen(), kind))
    for _ in range(110):
        template, value = secret()
        prefix = R.choice(["", "Here is the key ", "debug: ", "env "])
        rows.append(labelled(prefix + template + R.choice(["", " (rotate it)", "."]), value, "SECRET"))
    for _ in range(80):
        rows.append(combined())
    for _ in range(10):
        for neg in NEGATIVES:
            rows.append({"text": neg(), "entities": [], "kind": "negative"})
    R.shuffle(rows)
    out = Path(__file__).with_name("pii-own.jsonl")
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{len(rows)} rows -> {out}")


if __name__ == "__main__":
    main()
