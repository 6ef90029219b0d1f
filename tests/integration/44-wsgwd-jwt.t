#!/usr/bin/python3
# Token authentication: HS256 and RS256/ES256 configs; valid tokens pass (from the
# Authorization header or the token query parameter) and their claims reach the backend in
# OPEN; expired, not yet valid, wrong audience or issuer, forged, alg none, and an HS256 token
# signed with the public key against an RS256 config are refused with 401 and the reason.
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest as t
import wsutil as u
from framebackend import FrameBackend


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def der_to_raw(der):
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b''
    for _ in range(2):
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b'\0').rjust(32, b'\0')
        i += 2 + n
    return out


def mint(claims, alg, key, header_alg=None):
    h = b64url(json.dumps({'alg': header_alg or alg, 'typ': 'JWT'}).encode())
    c = b64url(json.dumps(claims).encode())
    si = (h + '.' + c).encode()
    if alg == 'HS256':
        sig = hmac.new(key if isinstance(key, bytes) else key.encode(), si, hashlib.sha256).digest()
    elif alg in ('RS256', 'ES256'):
        sig = subprocess.run(['openssl', 'dgst', '-sha256', '-sign', key], input=si,
                             capture_output=True, check=True).stdout
        if alg == 'ES256':
            sig = der_to_raw(sig)
    else:
        sig = b''
    return si.decode() + '.' + b64url(sig)


def attempt(d, token, via='header'):
    extra, path = '', '/'
    if token is not None and via == 'header':
        extra = 'Authorization: Bearer %s\r\n' % token
    elif token is not None:
        path = '/?token=' + token
    st, hdrs, body, s = u.request(d.port, u.upgrade_request(path, extra=extra))
    s.close()
    return st, hdrs.get('x-gwkit-auth-error')


now = int(time.time())
b = FrameBackend()
d = t.Daemon('wsgwd', conf='[wsgwd]\njwt_secret = s3cret\njwt_audience = gwkit\njwt_issuer = auth.example\n'
                           'jwt_leeway = 5s\n[backend echo]\naddress = 127.0.0.1:%d\n' % b.port)
t.ok(b.wait_links(2) and u.links_up(d), 'links up')
good = {'sub': 'alice', 'aud': 'gwkit', 'iss': 'auth.example', 'exp': now + 300}
t.is_(attempt(d, mint(good, 'HS256', 's3cret')), (101, None), 'HS256: a valid token in Authorization passes')
t.is_(attempt(d, mint(good, 'HS256', 's3cret'), via='query'), (101, None), 'HS256: a valid token in ?token= passes')
t.ok(t.wait_for(lambda: any((o.get('claims') or {}).get('sub') == 'alice' for o in b.opens)),
     'the verified claims reach the backend in OPEN')

cases = [
    ('no token', None, 'missing token'),
    ('expired', mint(dict(good, exp=now - 60), 'HS256', 's3cret'), 'expired'),
    ('not yet valid', mint(dict(good, nbf=now + 60), 'HS256', 's3cret'), 'not yet valid'),
    ('wrong audience', mint(dict(good, aud='other'), 'HS256', 's3cret'), 'wrong audience'),
    ('wrong issuer', mint(dict(good, iss='evil'), 'HS256', 's3cret'), 'wrong issuer'),
    ('forged', mint(good, 'HS256', 'guess'), 'bad signature'),
    ('alg none', mint(good, 'none', None), 'algorithm not allowed'),
    ('alg HS384', mint(good, 'HS256', 's3cret', header_alg='HS384'), 'algorithm not allowed'),
    ('alg RS256 against HS256', mint(good, 'HS256', 's3cret', header_alg='RS256'), 'algorithm not allowed'),
    ('alg NONE', mint(good, 'none', None, header_alg='NONE'), 'algorithm not allowed'),
    ('garbage', 'not.a.token', 'malformed'),
]
for name, tok, why in cases:
    t.is_(attempt(d, tok), (401, why), '%s: 401 (%s)' % (name, why))
t.is_(attempt(d, mint(dict(good, exp=now - 2), 'HS256', 's3cret')), (101, None),
      'expired within jwt_leeway: passes')
t.is_(attempt(d, mint(dict(good, nbf=now + 2), 'HS256', 's3cret')), (101, None),
      'not yet valid within jwt_leeway: passes')
t.is_(attempt(d, mint(dict(good, aud=['other', 'gwkit']), 'HS256', 's3cret')), (101, None),
      'an aud array naming jwt_audience: passes')
t.is_(attempt(d, mint(dict(good, exp=str(now + 300)), 'HS256', 's3cret')), (401, 'malformed'),
      'an exp that is not a number: 401 (malformed)')
t.ok(d.metric('wsgwd_handshakes_total', {'result': 'unauthorized'}) >= len(cases), 'refusals counted')

tmp = t.tmpdir()
for alg, genopts in (('RS256', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']),
                     ('ES256', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'])):
    priv = os.path.join(tmp, alg + '.key')
    pub = os.path.join(tmp, alg + '.pub')
    subprocess.run(['openssl', 'genpkey'] + genopts + ['-out', priv], check=True, capture_output=True)
    subprocess.run(['openssl', 'pkey', '-in', priv, '-pubout', '-out', pub], check=True, capture_output=True)
    d2 = t.Daemon('wsgwd', conf='[wsgwd]\njwt_alg = %s\njwt_public_key = %s\n[backend echo]\naddress = 127.0.0.1:%d\n'
                                % (alg, pub, b.port))
    t.ok(t.wait_for(lambda: d2.result('backends')['backends'][0]['links'] == 2), '%s gateway: links up' % alg)
    claims = {'sub': 'bob', 'exp': now + 300}
    t.is_(attempt(d2, mint(claims, alg, priv)), (101, None), '%s: a valid token passes' % alg)
    pem = open(pub, 'rb').read()
    t.is_(attempt(d2, mint(claims, 'HS256', pem)), (401, 'algorithm not allowed'),
          '%s: an HS256 token keyed with the public key is refused (no algorithm confusion)' % alg)
    t.is_(attempt(d2, mint(claims, 'none', None)), (401, 'algorithm not allowed'), '%s: alg none refused' % alg)
    d2.stop()

# Config errors are caught by -n.
rc, out, err = t.run([t.prog('wsgwd'), '-n'], env={'GWKIT_WSGWD_JWT_ALG': 'RS256', 'GWKIT_WSGWD_JWT_SECRET': 'x'})
t.is_((rc, err.strip()), (1, "wsgwd: env GWKIT_WSGWD_JWT_ALG: 'jwt_alg' RS256 needs 'jwt_public_key' (a PEM file)\n"
                             "wsgwd: configuration has 1 error".strip()), '-n: RS256 without a key is an error')
t.done()
