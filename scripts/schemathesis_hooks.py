"""schemathesis hooks of scripts/schemathesis (SCHEMATHESIS_HOOKS=schemathesis_hooks).

A client sends one Idempotency-Key per distinct request (a retry repeats it); the
gateway answers a key reused for another request 422, as draft-ietf-httpapi-
idempotency-key-header says. schemathesis draws keys from a small pool ("0", "00", …)
and would reuse one across operations and bodies, so a well-formed key is given a
suffix from the request it goes with: the same request keeps the same key (replays are
still tested), another request gets another key. A malformed key (empty, too long,
spaces at an end), and every negative case, is sent as generated.
"""

import hashlib
import json
import re

import schemathesis

KEY = "Idempotency-Key"
MAX = 200  # openapi.rs IDEMPOTENCY_KEY_MAX
WELL_FORMED = re.compile(r"^[!-~]([ -~]*[!-~])?$")


@schemathesis.hook
def before_call(context, case, kwargs):
    # A negative case is sent as generated: changing it would make schemathesis take it
    # for a positive one again (and send the header it meant to leave out).
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return
    headers = case.headers
    if not headers or KEY not in headers:
        return
    key = headers[KEY]
    if not isinstance(key, str) or len(key) > MAX or not WELL_FORMED.match(key):
        return
    try:
        body = json.dumps(case.body, sort_keys=True, default=str)
    except (TypeError, ValueError):
        body = repr(case.body)
    request = f"{case.method} {case.formatted_path} {body}"
    suffix = hashlib.sha256(request.encode()).hexdigest()[:8]
    headers[KEY] = f"{key[: MAX - 9]}-{suffix}"
